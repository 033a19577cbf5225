#include "core/api_roles.h"

#include <algorithm>
#include <array>

namespace metalpxe {
namespace {

constexpr std::string_view kRoleOrganizationPrefix = "metalpxe:";

// The table. Reads are viewer; what touches a machine (accept, reinstall,
// power, boot assets) is operator; who gets access (client configs) is admin.
// Power is operator even for STATUS: it talks to the BMC, which a read-only
// role should not be able to make busy.
constexpr std::array kApiRpcRules = {
    ApiRpcRule{"ListMachines", ApiRole::kViewer, false},
    ApiRpcRule{"GetMachine", ApiRole::kViewer, false},
    ApiRpcRule{"AcceptMachine", ApiRole::kOperator, true},
    ApiRpcRule{"ExportMachines", ApiRole::kViewer, false},
    ApiRpcRule{"Reinstall", ApiRole::kOperator, true},
    ApiRpcRule{"Power", ApiRole::kOperator, true},
    ApiRpcRule{"WatchEvents", ApiRole::kViewer, false},
    ApiRpcRule{"KernelLogs", ApiRole::kViewer, false},
    ApiRpcRule{"ListLeases", ApiRole::kViewer, false},
    ApiRpcRule{"ListImages", ApiRole::kViewer, false},
    ApiRpcRule{"PullImage", ApiRole::kOperator, true},
    ApiRpcRule{"Version", ApiRole::kViewer, false},
    ApiRpcRule{"Health", ApiRole::kViewer, false},
    ApiRpcRule{"Timeline", ApiRole::kViewer, false},
    ApiRpcRule{"WatchTimeline", ApiRole::kViewer, false},
    // Clusters: status is a read; kubeconfig and talosconfig are credentials
    // that are admin of the cluster, so only an admin may take them.
    ApiRpcRule{"ListClusters", ApiRole::kViewer, false},
    ApiRpcRule{"GetClusterStatus", ApiRole::kViewer, false},
    ApiRpcRule{"GetKubeconfig", ApiRole::kAdmin, false},
    ApiRpcRule{"GetTalosconfig", ApiRole::kAdmin, false},
    // An upgrade reboots every node of a cluster and changes what its
    // profiles install: an admin's decision, like its credentials.
    ApiRpcRule{"UpgradeCluster", ApiRole::kAdmin, true},
    ApiRpcRule{"IssueClientConfig", ApiRole::kAdmin, true},
    ApiRpcRule{"ListClientConfigs", ApiRole::kAdmin, false},
    ApiRpcRule{"RevokeClientConfig", ApiRole::kAdmin, true},
};

}  // namespace

std::string_view ApiRoleName(ApiRole role) {
  switch (role) {
    case ApiRole::kViewer: return "viewer";
    case ApiRole::kOperator: return "operator";
    case ApiRole::kAdmin: return "admin";
  }
  return "admin";
}

std::optional<ApiRole> ParseApiRole(std::string_view name) {
  for (ApiRole r : {ApiRole::kViewer, ApiRole::kOperator, ApiRole::kAdmin}) {
    if (ApiRoleName(r) == name) return r;
  }
  return std::nullopt;
}

std::string ApiRoleOrganization(ApiRole role) {
  return std::string(kRoleOrganizationPrefix) + std::string(ApiRoleName(role));
}

std::optional<ApiRole> ApiRoleFromOrganizations(const std::vector<std::string>& organizations) {
  std::optional<ApiRole> best;
  for (const auto& org : organizations) {
    std::string_view o(org);
    if (!o.starts_with(kRoleOrganizationPrefix)) continue;
    auto role = ParseApiRole(o.substr(kRoleOrganizationPrefix.size()));
    if (role && (!best || *role > *best)) best = role;
  }
  return best;
}

std::span<const ApiRpcRule> ManagementRpcRules() { return kApiRpcRules; }

ApiRpcRule RuleForRpc(std::string_view rpc) {
  auto it = std::find_if(kApiRpcRules.begin(), kApiRpcRules.end(), [&](const ApiRpcRule& r) { return r.rpc == rpc; });
  if (it != kApiRpcRules.end()) return *it;
  return ApiRpcRule{rpc, ApiRole::kAdmin, true};
}

ApiDecision DecideApiCall(std::string_view rpc, std::optional<ApiRole> held) {
  const ApiRpcRule rule = RuleForRpc(rpc);
  if (held && *held >= rule.required) return {true, ""};
  std::string refusal = std::string(rpc) + " needs the " + std::string(ApiRoleName(rule.required)) +
                        " role (certificate Organization " + ApiRoleOrganization(rule.required) + ")";
  if (held) {
    refusal += "; this client's certificate has the " + std::string(ApiRoleName(*held)) + " role";
  } else {
    refusal += "; this client's certificate has no metalpxe role";
  }
  return {false, refusal};
}

}  // namespace metalpxe
