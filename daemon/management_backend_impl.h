#pragma once
// The management API's view of the running appliance, as an adapter: it
// turns the provisioning service's machines, events, reinstall and power
// answers (and the kernel logs, leases and boot assets of the modules that
// keep them) into the API's messages. Rules live in the service.
#include <functional>
#include <string>

#include "api/kmsg_log_receiver.h"
#include "api/management/management_backend.h"
#include "core/config_source.h"
#include "core/provisioning/provisioning_service.h"
#include "daemon/cluster_driver.h"
#include "daemon/cluster_upgrade_driver.h"
#include "daemon/dhcp_elections.h"
#include "dhcp/server.h"
#include "images/asset_cache.h"

namespace metalpxe {

struct ManagementParts {
  const ConfigSource* config = nullptr;
  ProvisioningService* service = nullptr;
  dhcp::DhcpServer* dhcp = nullptr;  // null when dhcp.mode is off
  KmsgLogReceiver* kmsg = nullptr;
  AssetCache* assets = nullptr;
  ClusterDriver* clusters = nullptr;  // named clusters: bootstrap records, live calls
  ClusterUpgradeDriver* upgrades = nullptr;  // metalpxectl upgrade
  // Re-reads config + inventory (after an accept wrote the accepted file).
  std::function<bool()> reload;
  // The store's health (etcd: quorum, last error); empty: SQLite.
  std::function<StoreHealthView()> store_health;
};

v1::TimelineEntry TimelineEntryToProto(const TimelineEntry& e);

class ApplianceManagementBackend final : public ManagementBackend {
 public:
  explicit ApplianceManagementBackend(ManagementParts parts) : p_(std::move(parts)) {}

  std::vector<v1::Machine> ListMachines() override;
  Result<v1::Machine> GetMachine(const std::string& machine) override;
  Result<v1::Machine> AcceptMachine(const v1::AcceptMachineRequest& request) override;
  Result<std::string> ExportMachinesYaml() override;
  Result<v1::Machine> Reinstall(const std::string& machine, bool wipe) override;
  void Power(const std::string& machine, v1::PowerRequest::Action action,
             std::function<void(Result<std::string>)> done) override;
  std::vector<v1::Event> Events(std::int64_t since_unix_ms, const std::string& machine) override;
  int SubscribeEvents(std::function<void(const v1::Event&)> listener) override;
  void UnsubscribeEvents(int id) override;
  Result<std::vector<v1::LogLine>> KernelLogTail(const std::string& machine, std::size_t n) override;
  Result<std::uint64_t> SubscribeKernelLogs(const std::string& machine,
                                            std::function<void(const v1::LogLine&)> listener) override;
  void UnsubscribeKernelLogs(std::uint64_t id) override;
  Result<v1::TimelineResponse> Timeline(const std::string& machine, std::size_t limit) override;
  Result<int> SubscribeTimeline(const std::string& machine,
                                std::function<void(const v1::TimelineEntry&)> listener) override;
  void UnsubscribeTimeline(int id) override;
  std::vector<v1::Lease> Leases() override;
  std::vector<v1::Image> Images() override;
  void PullImage(const std::string& profile, std::function<void(const v1::PullProgress&)> progress,
                 std::function<void(const Status&)> done) override;
  std::vector<v1::Cluster> ListClusters() override;
  Result<v1::ClusterStatus> GetClusterStatus(const std::string& cluster) override;
  Result<Secret> Kubeconfig(const std::string& cluster) override;
  Result<Secret> Talosconfig(const std::string& cluster) override;
  void UpgradeCluster(const v1::UpgradeClusterRequest& request, std::function<void(const v1::UpgradeProgress&)> progress,
                      std::function<void(const Status&)> done) override;
  void RecordApiCall(const ApiCallRecord& call) override;
  std::string Version() override;
  v1::HealthResponse Health() override;

 private:
  Result<MachineRecord> Find(const std::string& machine) const;
  v1::Machine ToProto(const AppConfig& config, const MachineRecord& r) const;
  v1::Cluster ClusterToProto(const AppConfig& config, const ClusterConfig& c) const;
  MachineRegistry& registry() const { return p_.service->registry(); }
  ManagementParts p_;
};

}  // namespace metalpxe
