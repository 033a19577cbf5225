#pragma once
// Drives the named clusters (config section `clusters`) from installed
// machines to a bootstrapped cluster, with the real Talos client:
//   - an installed machine of a cluster whose Talos API answers Version over
//     mutual TLS with the cluster's talosconfig becomes `running`;
//   - the bootstrap decisions (core/provisioning/cluster_lifecycle.h): the
//     record is persisted before each Bootstrap call, and after it; every
//     change is a cluster event ("bootstrapped", or the reason);
//   - configDelivery apply: a machine whose installer was served without
//     talos.config waits in maintenance mode; each round sends its rendered
//     config with ApplyConfiguration over TLS (no client certificate, as
//     `talosctl apply-config --insecure`) to the address the installer was
//     served to, until Talos takes it (or rejects it: failed).
// It also answers the management API's live questions about a cluster
// (etcd members, kubeconfig), which need a running control plane.
//
// Threading: Talos calls block (each has a deadline), so they run on the
// driver's own worker thread, never on the event loop. The daemon's
// Scheduler only ticks: every `round_interval`, and at a retry's backoff,
// it asks the worker for a round; a round already under way absorbs the
// request (no pile-up, no busy loop). The API's calls run on the gRPC
// handler's thread.
//
// Credentials (talosconfig keys, kubeconfigs) go to the Talos client only:
// nothing here logs or records them.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/config_source.h"
#include "core/machine_registry.h"
#include "core/provisioning/cluster_lifecycle.h"
#include "core/provisioning/power_control.h"
#include "core/provisioning/provisioning_service.h"
#include "core/secret.h"
#include "core/store.h"
#include "daemon/cluster_leadership.h"
#include "talos/machine_client.h"

namespace metalpxe {

struct ClusterDriverOptions {
  std::chrono::milliseconds round_interval{10'000};
  std::uint16_t apid_port = talos::kApidPort;
  // Deadline of the Version / EtcdMemberList calls a round makes (short:
  // one silent node must not hold the round for long).
  std::chrono::milliseconds probe_timeout{5'000};
  std::chrono::milliseconds bootstrap_timeout = talos::Timeouts::kBootstrap;
  std::chrono::milliseconds apply_timeout = talos::Timeouts::kApply;
  // Backoff after `attempts` Bootstrap calls (tests shorten it).
  std::function<std::chrono::milliseconds(int)> retry_delay = BootstrapRetryDelay;
  // How long a record write may take before the call it guards is skipped.
  std::chrono::milliseconds persist_timeout{30'000};
  std::function<std::int64_t()> now_unix;  // default: the system clock
  // Several appliances share the store (etcd): each round first reads the
  // records again, so one appliance sees what another decided (a cluster it
  // bootstrapped, the node a Bootstrap is pinned to) before deciding itself.
  bool shared_store = false;
  // Run on the driver's worker at the start of every round (shared store:
  // the upgrade records are read again there too, off the event loop).
  std::function<void()> each_round;
  // Several appliances: only the leader of a cluster (cluster_leadership.h)
  // probes, bootstraps and applies configs for it; the others take its
  // records each round. Null: the only appliance (SQLite), always the one.
  ClusterLeadership* leadership = nullptr;
};

// One machine of a cluster, as the API shows it.
struct ClusterMember {
  std::string name;
  Role role = Role::kWorker;
  MachineState state = MachineState::kPendingInstall;
  std::string address;  // "" when not known yet
};

class ClusterDriver {
 public:
  ClusterDriver(const ConfigSource& config, MachineRegistry& registry, Store* store, Scheduler& scheduler,
                ClusterDriverOptions options = {});
  ~ClusterDriver();  // Stop()

  // Restores the records from the store (a failed cluster gets a fresh
  // bounded round: cluster_lifecycle.h). Call before Start().
  Status Load();
  // configDelivery apply: where the targets and their configs come from.
  // Call before Start().
  void SetConfigApplier(ProvisioningService* provisioning) { provisioning_ = provisioning; }
  void Start();
  void Stop();  // waits for the round under way (each call is bounded)

  // Asks for a round soon (the next tick otherwise). Any thread.
  void RequestRound();
  // Rounds completed so far (tests wait on it).
  std::uint64_t rounds() const;

  // The record of a configured cluster (pending when nothing happened yet).
  ClusterRecord Record(const std::string& cluster) const;

  // --- For the management API (blocking, bounded; any thread) --------------
  static std::vector<ClusterMember> Members(const AppConfig& config, const MachineRegistry& registry,
                                            const std::string& cluster);
  // From the first running control plane that answers.
  Result<std::vector<talos::EtcdMember>> EtcdMembers(const std::string& cluster) const;
  Result<Secret> Kubeconfig(const std::string& cluster) const;
  // The Talos version a machine last answered to Version ("" when it never
  // did since metalpxed started). RefreshVersions asks every running node of
  // the cluster again (bounded by probe_timeout each), for cluster status.
  std::string KnownVersion(const std::string& machine) const;
  void RefreshVersions(const std::string& cluster);

 private:
  struct Target {
    MacAddress mac;
    ClusterMember member;
    bool config_by_apply = false;  // its config goes over the Talos API (configDelivery apply)
  };
  static std::vector<Target> Targets(const AppConfig& config, const MachineRegistry& registry,
                                     const std::string& cluster);
  void Tick();
  void Worker();
  void Round();
  void RereadRecords();  // shared_store: what other appliances wrote since
  void ApplyConfigs();
  // Does this appliance do `cluster`'s work now ("" = machines without one)?
  bool Leads(const std::string& cluster) const;
  void DriveCluster(const ClusterConfig& cluster, std::vector<Target> targets);
  void ProbeVersion(const ClusterConfig& cluster, Target& t);
  int EtcdMemberCount(const ClusterConfig& cluster, const Target& t) const;
  void CallBootstrap(const ClusterConfig& cluster, const std::string& node, const std::vector<Target>& targets);
  // Writes the record durably (waits, bounded) and keeps it; records the
  // cluster event when its meaning changed. False when the write failed.
  bool Persist(const ClusterRecord& before, const ClusterRecord& after);
  std::int64_t NowUnix() const;

  const ConfigSource& config_;
  MachineRegistry& registry_;
  Store* store_;
  Scheduler& scheduler_;
  ClusterDriverOptions options_;
  ProvisioningService* provisioning_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool round_requested_ = false;
  bool stopping_ = false;
  bool started_ = false;
  std::uint64_t rounds_ = 0;
  std::map<std::string, ClusterRecord> records_;
  std::map<std::string, std::chrono::steady_clock::time_point> next_call_;  // backoff, by cluster
  std::map<std::string, std::string> last_probe_failure_;                  // by machine: logged once
  std::map<std::string, std::string> versions_;                            // by machine: last Version tag
  std::unique_ptr<Scheduler::Handle> tick_;
  std::map<std::string, std::unique_ptr<Scheduler::Handle>> retry_ticks_;  // by cluster
  // Scheduler callbacks hold this: a callback already queued when the driver
  // goes finds `on` false (under the mutex) and does nothing.
  struct Life {
    std::mutex mu;
    bool on = true;
  };
  std::shared_ptr<Life> life_ = std::make_shared<Life>();
  std::thread worker_;
};

}  // namespace metalpxe
