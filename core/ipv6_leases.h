#pragma once
// The DHCPv6 leases as the provisioning core sees them: which IPv6 address
// each MAC holds, and which MAC an IPv6 address belongs to. The DHCPv6
// responder owns the leases (in memory, docs/ipv6.md) and runs on the event
// loop; HTTP workers, gRPC handlers and the kernel-log receiver ask here
// instead, fed by the responder's observations (a Reply that bound or renewed
// an address, a Release or Decline that gave it up). Thread-safe.
//
// Bounded: one address per MAC (a new one replaces the old), and at most
// `max_entries` MACs; past that the lease closest to its end makes room.
// The responder itself holds at most one binding per client in the pool, so
// the bound is never reached by honest traffic.
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/net_types.h"

namespace metalpxe {

class Ipv6Leases {
 public:
  explicit Ipv6Leases(std::size_t max_entries = 65536) : max_(max_entries) {}

  // `mac` holds `address` until `expires_unix` (seconds).
  void Bind(const MacAddress& mac, const Ipv6Address& address, std::int64_t expires_unix);
  // `mac` gave `address` up (Release, Decline); another MAC's lease stays.
  void Release(const MacAddress& mac, const Ipv6Address& address);

  std::optional<Ipv6Address> AddressOf(const MacAddress& mac, std::int64_t now_unix) const;
  std::optional<MacAddress> MacFor(const Ipv6Address& address, std::int64_t now_unix) const;
  std::size_t size() const;

 private:
  struct Lease {
    Ipv6Address address;
    std::int64_t expires_unix = 0;
  };
  void EraseLocked(const MacAddress& mac);

  const std::size_t max_;
  mutable std::mutex mu_;
  std::map<MacAddress, Lease> by_mac_;
  std::map<Ipv6Address, MacAddress> by_address_;
};

// What a config token for an installer asked over IPv6 is bound to: the
// machine's DHCPv6 lease when it has one (the request must come from it),
// else the MAC only (proxy mode, SLAAC, or a lease lost to a restart: the
// address is then not ours to vouch for, as in IPv4 proxy mode).
struct Ipv6TokenBinding {
  enum class Kind { kBound, kMacOnly, kRefused };
  Kind kind = Kind::kMacOnly;
  std::optional<Ipv6Address> bound;  // kBound
  std::string why;                   // kRefused: safe to log
};
Ipv6TokenBinding DecideIpv6TokenBinding(const std::optional<Ipv6Address>& lease, const Ipv6Address& peer);

// May a config token bound to `bound` be redeemed from `peer`? Yes from the
// bound address itself, or from the address the same MAC leases now (the
// installer's own DHCPv6 may have been given another), never otherwise.
bool Ipv6PeerMayRedeem(const Ipv6Address& bound, const Ipv6Address& peer, const std::optional<Ipv6Address>& lease_now);

}  // namespace metalpxe
