#pragma once
// A ManagementBackend with fixed data for the management API tests: two
// machines (one inventory, one discovered), events, kernel logs, leases and
// images, one cluster "lab" (bootstrapped, fixed credentials). It records the state-changing calls, and tests push live events
// and log lines through EmitEvent / EmitLogLine.
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "api/management/management_backend.h"

namespace metalpxe::testing {

class FakeBackend final : public ManagementBackend {
 public:
  FakeBackend();

  std::vector<metalpxe::v1::Machine> ListMachines() override;
  Result<metalpxe::v1::Machine> GetMachine(const std::string& machine) override;
  Result<metalpxe::v1::Machine> AcceptMachine(const metalpxe::v1::AcceptMachineRequest& request) override;
  Result<std::string> ExportMachinesYaml() override;
  Result<metalpxe::v1::Machine> Reinstall(const std::string& machine, bool wipe) override;
  void Power(const std::string& machine, metalpxe::v1::PowerRequest::Action action,
             std::function<void(Result<std::string>)> done) override;
  std::vector<metalpxe::v1::Event> Events(std::int64_t since_unix_ms, const std::string& machine) override;
  int SubscribeEvents(std::function<void(const metalpxe::v1::Event&)> listener) override;
  void UnsubscribeEvents(int id) override;
  Result<std::vector<metalpxe::v1::LogLine>> KernelLogTail(const std::string& machine, std::size_t n) override;
  Result<std::uint64_t> SubscribeKernelLogs(const std::string& machine,
                                            std::function<void(const metalpxe::v1::LogLine&)> listener) override;
  void UnsubscribeKernelLogs(std::uint64_t id) override;
  Result<metalpxe::v1::TimelineResponse> Timeline(const std::string& machine, std::size_t limit) override;
  Result<int> SubscribeTimeline(const std::string& machine,
                                std::function<void(const metalpxe::v1::TimelineEntry&)> listener) override;
  void UnsubscribeTimeline(int id) override;
  std::vector<metalpxe::v1::Lease> Leases() override;
  std::vector<metalpxe::v1::Image> Images() override;
  void PullImage(const std::string& profile, std::function<void(const metalpxe::v1::PullProgress&)> progress,
                 std::function<void(const Status&)> done) override;
  std::vector<metalpxe::v1::Cluster> ListClusters() override;
  Result<metalpxe::v1::ClusterStatus> GetClusterStatus(const std::string& cluster) override;
  Result<Secret> Kubeconfig(const std::string& cluster) override;
  Result<Secret> Talosconfig(const std::string& cluster) override;
  // Cluster "lab": v1.9.6 goes through node-w then node-a; any other
  // version fails on node-w with Talos's refusal.
  void UpgradeCluster(const metalpxe::v1::UpgradeClusterRequest& request,
                      std::function<void(const metalpxe::v1::UpgradeProgress&)> progress,
                      std::function<void(const Status&)> done) override;
  void RecordApiCall(const ApiCallRecord& call) override;
  std::string Version() override { return "0.1.0-test"; }
  metalpxe::v1::HealthResponse Health() override;

  // Test side.
  void EmitEvent(const std::string& machine, const std::string& kind, const std::string& message);
  void EmitLogLine(const std::string& machine, const std::string& message);
  // A new timeline entry of `machine` (name), or the last one again when `repeat`.
  void EmitTimeline(const std::string& machine, const std::string& source, const std::string& summary,
                    bool repeat = false);
  int timeline_subscribers();
  int event_subscribers();
  int log_subscribers();
  std::vector<std::string> calls();  // "accept aa:..:01 node-b worker", "reinstall node-a wipe", "power node-a CYCLE"
  std::vector<ApiCallRecord> api_calls();  // what RecordApiCall was given, in order
  // Power calls on known machines end with this status from now on (as the
  // daemon's do when the BMC does not answer); Ok restores the normal answer.
  void SetPowerFailure(Status failure);

 private:
  static metalpxe::v1::Cluster LabCluster();
  const metalpxe::v1::Machine* Find(const std::string& machine) const;  // mu_ held

  std::mutex mu_;
  std::vector<metalpxe::v1::Machine> machines_;
  std::vector<metalpxe::v1::Event> events_;
  std::map<std::string, std::vector<metalpxe::v1::LogLine>> logs_;  // by machine name
  std::map<int, std::function<void(const metalpxe::v1::Event&)>> event_subs_;
  std::map<std::uint64_t, std::pair<std::string, std::function<void(const metalpxe::v1::LogLine&)>>> log_subs_;
  std::map<std::string, std::vector<metalpxe::v1::TimelineEntry>> timelines_;  // by machine name
  std::map<int, std::pair<std::string, std::function<void(const metalpxe::v1::TimelineEntry&)>>> timeline_subs_;
  std::vector<std::string> calls_;
  std::vector<ApiCallRecord> api_calls_;
  Status power_failure_;
  std::vector<std::string> exported_;
  int next_sub_ = 1;
  std::int64_t next_event_id_ = 1;
};

}  // namespace metalpxe::testing
