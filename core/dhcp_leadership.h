#pragma once
// Who answers DHCP for a subnet. With one appliance (the SQLite store) it
// answers every subnet it serves. With several appliances on one etcd
// store, each served subnet has a leader election (daemon/dhcp_elections.h)
// and only its leader answers, once it has read the lease table the
// previous leader left (so it never offers an address that is already
// taken); the others stand by. Plain data and one decision, asked by the
// DHCP server for every request on port 67.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/net_types.h"

namespace metalpxe {

struct DhcpSubnetRole {
  Ipv4Cidr subnet;
  bool leader = false;                // the subnet's election says we lead
  std::int64_t term = 0;              // the election's term while we lead (etcd create revision)
  std::int64_t leases_loaded_term = 0;  // the term in which we read the stored leases; == term: ready
  std::string leader_name;            // who leads, as far as we know ("" = nobody known)
  bool operator==(const DhcpSubnetRole&) const = default;
};

struct DhcpLeadership {
  bool elected = false;  // false: a single appliance, answering every subnet it serves
  std::vector<DhcpSubnetRole> subnets;
  bool operator==(const DhcpLeadership&) const = default;
};

enum class DhcpAnswer {
  kAnswer,      // we are the one to answer
  kStandby,     // another appliance leads (or nobody does): stay silent
  kTakingOver,  // elected, but the stored leases are not read yet: stay silent a moment
};

// `subnet`: the served subnet the request belongs to (the pool the DHCP
// server picks by giaddr, receiving interface or ciaddr); nullopt when none.
DhcpAnswer ShouldAnswerDhcp(const DhcpLeadership& leadership, const std::optional<Ipv4Cidr>& subnet);

// "single" | "leader" | "taking-over" | "standby": for logs, metrics, the API.
std::string_view DhcpSubnetRoleName(const DhcpLeadership& leadership, const DhcpSubnetRole& role);

// Every subnet standing by: what an elected appliance starts with.
DhcpLeadership StandbyLeadership(const std::vector<Ipv4Cidr>& subnets);

// The role of `subnet`, nullptr when it has none.
const DhcpSubnetRole* FindDhcpSubnetRole(const DhcpLeadership& leadership, const Ipv4Cidr& subnet);

}  // namespace metalpxe
