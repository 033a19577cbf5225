#pragma once
// What the management API asks of the appliance. The gRPC service
// (management_service.h) translates calls to this interface; the daemon
// implements it over the registry, DHCP, kernel logs, boot assets and power
// drivers. Tests implement it with fixed data. Every method is thread-safe
// and called from gRPC worker threads; long work (power actions, downloads)
// reports through callbacks instead of blocking.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/secret.h"
#include "metalpxe/v1/management.pb.h"

namespace metalpxe {

// A state-changing call, for the event history: who (certificate CN), what,
// on which machine, and how it ended. Never a secret.
struct ApiCallRecord {
  std::string caller;   // CN of the client certificate
  std::string rpc;      // "Power"
  std::string machine;  // as the caller named it (name or MAC); "" when the call is not about one
  std::string message;  // "admin: power CYCLE node-a: ok"
};

class ManagementBackend {
 public:
  virtual ~ManagementBackend() = default;

  virtual std::vector<metalpxe::v1::Machine> ListMachines() = 0;
  // `machine`: inventory name or MAC in any accepted spelling. kNotFound when neither.
  virtual Result<metalpxe::v1::Machine> GetMachine(const std::string& machine) = 0;
  // kNotFound: no such discovered MAC; kAlreadyExists: already in the inventory;
  // kInvalidArgument: bad name/role/profile.
  virtual Result<metalpxe::v1::Machine> AcceptMachine(const metalpxe::v1::AcceptMachineRequest& request) = 0;
  // The machines accepted through the API, as inventory YAML.
  virtual Result<std::string> ExportMachinesYaml() = 0;
  // Records the request and starts the power sequence; returns the machine
  // in reinstall-requested. kFailedPrecondition: no usable BMC, or a power
  // action happened too recently.
  virtual Result<metalpxe::v1::Machine> Reinstall(const std::string& machine, bool wipe) = 0;
  // Runs the power action off the caller's thread; `done` gets the power
  // state after it ("on" | "off" | "unknown") or the classified error.
  virtual void Power(const std::string& machine, metalpxe::v1::PowerRequest::Action action,
                     std::function<void(Result<std::string>)> done) = 0;

  // Events at or after since_unix_ms (machine "" = all), oldest first.
  virtual std::vector<metalpxe::v1::Event> Events(std::int64_t since_unix_ms, const std::string& machine) = 0;
  // Live events; the listener runs on the thread that recorded the event and
  // must not block. Returns an id for Unsubscribe.
  virtual int SubscribeEvents(std::function<void(const metalpxe::v1::Event&)> listener) = 0;
  virtual void UnsubscribeEvents(int id) = 0;

  // Kernel log lines of a machine (name or MAC); kNotFound for an unknown machine.
  virtual Result<std::vector<metalpxe::v1::LogLine>> KernelLogTail(const std::string& machine, std::size_t n) = 0;
  virtual Result<std::uint64_t> SubscribeKernelLogs(const std::string& machine,
                                                    std::function<void(const metalpxe::v1::LogLine&)> listener) = 0;
  virtual void UnsubscribeKernelLogs(std::uint64_t id) = 0;

  // A machine's boot timeline (name or MAC; kNotFound for neither), the
  // newest `limit` entries oldest first. Subscribe: its new entries, on the
  // thread that recorded them (must not block).
  virtual Result<metalpxe::v1::TimelineResponse> Timeline(const std::string& machine, std::size_t limit) = 0;
  virtual Result<int> SubscribeTimeline(const std::string& machine,
                                        std::function<void(const metalpxe::v1::TimelineEntry&)> listener) = 0;
  virtual void UnsubscribeTimeline(int id) = 0;

  virtual std::vector<metalpxe::v1::Lease> Leases() = 0;
  virtual std::vector<metalpxe::v1::Image> Images() = 0;
  // Downloads (or verifies) a profile's boot assets; progress and done run
  // on the download thread. kNotFound for an unknown profile.
  virtual void PullImage(const std::string& profile, std::function<void(const metalpxe::v1::PullProgress&)> progress,
                         std::function<void(const Status&)> done) = 0;

  // Named clusters. GetClusterStatus calls the cluster's nodes and
  // Kubernetes endpoint (bounded, blocking). kNotFound for an unknown name.
  virtual std::vector<metalpxe::v1::Cluster> ListClusters() = 0;
  virtual Result<metalpxe::v1::ClusterStatus> GetClusterStatus(const std::string& cluster) = 0;
  // Credentials, for the caller only: never logged.
  virtual Result<Secret> Kubeconfig(const std::string& cluster) = 0;
  virtual Result<Secret> Talosconfig(const std::string& cluster) = 0;
  // Runs a rolling upgrade (daemon/cluster_upgrade_driver.h) off the
  // caller's thread; progress and done run on the upgrade's thread.
  virtual void UpgradeCluster(const metalpxe::v1::UpgradeClusterRequest& request,
                              std::function<void(const metalpxe::v1::UpgradeProgress&)> progress,
                              std::function<void(const Status&)> done) = 0;
  // Records a state-changing call (or a refused attempt) as an event.
  virtual void RecordApiCall(const ApiCallRecord& call) = 0;

  virtual std::string Version() = 0;
  virtual metalpxe::v1::HealthResponse Health() = 0;
};

}  // namespace metalpxe
