#include "core/dhcp_leadership.h"

namespace metalpxe {

const DhcpSubnetRole* FindDhcpSubnetRole(const DhcpLeadership& leadership, const Ipv4Cidr& subnet) {
  for (const auto& r : leadership.subnets)
    if (r.subnet == subnet) return &r;
  return nullptr;
}

DhcpLeadership StandbyLeadership(const std::vector<Ipv4Cidr>& subnets) {
  DhcpLeadership l;
  l.elected = true;
  for (const auto& s : subnets) {
    DhcpSubnetRole r;
    r.subnet = s;
    l.subnets.push_back(std::move(r));
  }
  return l;
}

DhcpAnswer ShouldAnswerDhcp(const DhcpLeadership& leadership, const std::optional<Ipv4Cidr>& subnet) {
  if (!leadership.elected) return DhcpAnswer::kAnswer;
  // Elected but the request fits no served subnet: no election covers it,
  // and answering could contradict the appliance that serves it.
  if (!subnet) return DhcpAnswer::kStandby;
  const DhcpSubnetRole* role = FindDhcpSubnetRole(leadership, *subnet);
  if (role == nullptr || !role->leader || role->term == 0) return DhcpAnswer::kStandby;
  // The lease table is the one read in this term: a table from before (when
  // another appliance was granting) could offer an address already taken.
  if (role->leases_loaded_term != role->term) return DhcpAnswer::kTakingOver;
  return DhcpAnswer::kAnswer;
}

std::string_view DhcpSubnetRoleName(const DhcpLeadership& leadership, const DhcpSubnetRole& role) {
  if (!leadership.elected) return "single";
  if (!role.leader) return "standby";
  return role.leases_loaded_term == role.term && role.term != 0 ? "leader" : "taking-over";
}

}  // namespace metalpxe
