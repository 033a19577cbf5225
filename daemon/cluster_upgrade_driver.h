#pragma once
// Runs `metalpxectl upgrade CLUSTER --to vX.Y.Z [--schematic ID]`: the
// decisions of core/cluster_upgrade.h with the real Talos client. For each
// node in the plan's order it asks Version over mutual TLS with the
// cluster's talosconfig, calls Upgrade with the Image Factory installer
// image, and waits (bounded, with backoff) until the node answers Version
// with the target; the first failure ends the run with its reason.
//
// Durable: the cluster's UpgradeRecord is written (and confirmed) before
// each Upgrade call and after each node, so a restart of metalpxed never
// calls Upgrade twice on a node and a re-run skips the nodes already on the
// target (and waits for the node that was in flight). The record's pinned
// version is what the cluster's profiles boot from then on
// (ApplyUpgradePins; the daemon re-applies the config on `on_pins_changed`).
//
// Progress goes to the caller's callback and, for what changes meaning, to
// the cluster's events (and the node's, which feed its timeline). Nothing
// here logs or records credentials: only names, versions, image references.
//
// Threading: Run() blocks its caller (every call has a deadline, every
// wait is bounded); Start() runs it on a thread of the driver's, joined by
// Stop(). One run per cluster at a time. Stop() ends runs at their next wait
// without failing them: their record stays `running`, and a re-run resumes.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/cluster_upgrade.h"
#include "core/config_source.h"
#include "core/machine_registry.h"
#include "core/store.h"
#include "daemon/cluster_leadership.h"
#include "talos/machine_client.h"

namespace metalpxe {

struct ClusterUpgradeOptions {
  std::uint16_t apid_port = talos::kApidPort;
  std::chrono::milliseconds probe_timeout{5'000};  // each Version call
  std::chrono::milliseconds upgrade_timeout = talos::Timeouts::kUpgrade;
  UpgradeLimits limits;
  std::chrono::milliseconds persist_timeout{30'000};  // a record write, before the call it guards is skipped
  std::function<std::int64_t()> now_ms;               // default: the system clock
  // Several appliances (etcd): only the leader of a cluster runs its upgrade
  // (cluster_leadership.h); a run asked of another appliance is refused with
  // the leader's name, a run whose appliance stops leading ends (its record
  // stays running) and the new leader resumes it (ResumeLedRuns). Null: the
  // only appliance (SQLite), always the one.
  ClusterLeadership* leadership = nullptr;
};

// One line of progress. `phase` names (stable: the CLI prints them, docs/operations.md):
//   plan      the order ("wk-1, cp-1, cp-2"), in `message`
//   skipped   a node not running, left to its next install (`message` says why)
//   already   the node answers the target: not called
//   upgrading Upgrade accepted (`message`: the installer image)
//   waiting   the node's latest answer while it reboots (only when it changes)
//   upgraded  the node answers the target (`message`: how long it took)
//   done      every node answers the target
//   failed    the run stopped (`message`: the reason)
struct UpgradeUpdate {
  std::string phase;
  std::string node;
  std::string message;
};
using UpgradeListener = std::function<void(const UpgradeUpdate&)>;

class ClusterUpgradeDriver {
 public:
  ClusterUpgradeDriver(const ConfigSource& config, MachineRegistry& registry, Store* store,
                       ClusterUpgradeOptions options = {});
  ~ClusterUpgradeDriver();  // Stop()

  // Reads the stored records (the pins). Call before anything else.
  Status Load();
  std::vector<UpgradeRecord> Records() const;
  // Several appliances share the store (etcd): takes the records another
  // appliance wrote since (a run of its own there, or its result), for every
  // cluster without a run under way here, and calls on_pins_changed when a
  // pin changed, so this appliance boots what the cluster was upgraded to.
  // Blocking (a store read): never on an event loop.
  void Reread();
  // Several appliances: resumes, on threads of the driver's, the runs the
  // shared records show under way (state running) for each cluster this
  // appliance leads and runs nothing for: the run of an appliance that died
  // or stepped down goes on from its record (done nodes stay done, the node
  // in flight is waited for, never called again). Call after Reread().
  void ResumeLedRuns();
  // Called (on the run's thread, or Reread's) after a record whose pin changed is durable.
  void SetOnPinsChanged(std::function<void()> on_pins_changed) { on_pins_changed_ = std::move(on_pins_changed); }

  // Runs the upgrade to its end on the calling thread. OK when every node
  // answers `version`; else the reason (kNotFound: no such cluster;
  // kInvalidArgument: a malformed version or schematic; kFailedPrecondition:
  // the plan's refusals, a run already under way, or a node that failed;
  // kUnavailable: metalpxed is stopping, the run resumes when started again).
  Status Run(const std::string& cluster, const std::string& version, const std::string& schematic,
             const UpgradeListener& progress);
  // The same on a thread of the driver's; `done` gets Run's status.
  void Start(const std::string& cluster, const std::string& version, const std::string& schematic,
             UpgradeListener progress, std::function<void(const Status&)> done);
  void Stop();

 private:
  struct Node {
    MacAddress mac;
    std::string address;
  };
  talos::CallResult<talos::NodeVersion> Look(const ClusterConfig& cluster, const Node& node) const;
  Status Drive(const ClusterConfig& cluster, const UpgradePlan& plan, UpgradeRun run,
               const std::map<std::string, Node>& nodes, const UpgradeListener& progress);
  // Writes the record durably; false when the write failed (the call it guards is not made).
  bool Persist(const UpgradeRecord& record);
  bool Leads(const std::string& cluster) const;
  std::string NotLeadingReason(const std::string& cluster) const;
  // Waits `d` unless the driver stops first (then false).
  bool Sleep(std::chrono::milliseconds d);
  std::int64_t NowMs() const;

  const ConfigSource& config_;
  MachineRegistry& registry_;
  Store* store_;
  ClusterUpgradeOptions options_;
  std::function<void()> on_pins_changed_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<std::string, UpgradeRecord> records_;  // by cluster
  std::set<std::string> active_;                  // clusters with a run under way
  // ResumeLedRuns: the records resumed (by cluster): started once each;
  // again after a run that ended without failing it, or a minute after a
  // refusal (the plan's reasons may pass: a machine record not read yet).
  struct Resumed {
    std::string record;  // RecordKey
    std::chrono::steady_clock::time_point not_before = std::chrono::steady_clock::time_point::max();
  };
  std::map<std::string, Resumed> resumed_;
  std::vector<std::thread> threads_;
};

}  // namespace metalpxe
