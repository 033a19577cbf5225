#pragma once
// Who may call what on the management API, as plain data. Roles follow
// Talos's (os:admin, os:operator, os:reader): a client certificate carries
// its role in its Organization ("metalpxe:admin", "metalpxe:operator",
// "metalpxe:viewer"), and each rpc of metalpxe.v1.Management has one row
// below saying the least role it needs. Roles are ordered: admin can do what
// an operator can, an operator what a viewer can. The table is checked
// against the service's descriptor by a test, so a new rpc without a row
// fails the build's tests instead of slipping through; at run time an rpc
// without a row needs admin (fail closed).
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace metalpxe {

enum class ApiRole { kViewer = 0, kOperator = 1, kAdmin = 2 };

struct ApiRpcRule {
  std::string_view rpc;      // method name in metalpxe.v1.Management ("Power")
  ApiRole required;          // the least role that may call it
  bool changes_state;        // recorded as an event with the caller's name
};

// "admin" | "operator" | "viewer".
std::string_view ApiRoleName(ApiRole role);
std::optional<ApiRole> ParseApiRole(std::string_view name);
// "metalpxe:admin" etc.: the Organization a certificate of this role carries.
std::string ApiRoleOrganization(ApiRole role);
// The highest role among a certificate's Organization values; nullopt when
// none names a metalpxe role (such a certificate may call nothing).
std::optional<ApiRole> ApiRoleFromOrganizations(const std::vector<std::string>& organizations);

// Every rpc of metalpxe.v1.Management, one row each.
std::span<const ApiRpcRule> ManagementRpcRules();
// The row of `rpc`, or a fail-closed rule (admin, state-changing) for an
// rpc the table does not know.
ApiRpcRule RuleForRpc(std::string_view rpc);

struct ApiDecision {
  bool allowed = false;
  std::string refusal;  // when refused: what the call needs and what the caller has
};
// May a caller holding `held` (nullopt: no metalpxe role) call `rpc`?
ApiDecision DecideApiCall(std::string_view rpc, std::optional<ApiRole> held);

}  // namespace metalpxe
