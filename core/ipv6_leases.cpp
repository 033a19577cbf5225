#include "core/ipv6_leases.h"

#include <string>

namespace metalpxe {

void Ipv6Leases::EraseLocked(const MacAddress& mac) {
  auto it = by_mac_.find(mac);
  if (it == by_mac_.end()) return;
  if (auto a = by_address_.find(it->second.address); a != by_address_.end() && a->second == mac) by_address_.erase(a);
  by_mac_.erase(it);
}

void Ipv6Leases::Bind(const MacAddress& mac, const Ipv6Address& address, std::int64_t expires_unix) {
  std::lock_guard lock(mu_);
  EraseLocked(mac);
  // The address moved to this MAC (the responder rebinds a free address):
  // the old holder's entry goes.
  if (auto a = by_address_.find(address); a != by_address_.end()) EraseLocked(a->second);
  if (by_mac_.size() >= max_ && max_ > 0) {
    auto soonest = by_mac_.begin();
    for (auto it = by_mac_.begin(); it != by_mac_.end(); ++it)
      if (it->second.expires_unix < soonest->second.expires_unix) soonest = it;
    EraseLocked(MacAddress(soonest->first));
  }
  if (max_ == 0) return;
  by_mac_[mac] = Lease{address, expires_unix};
  by_address_[address] = mac;
}

void Ipv6Leases::Release(const MacAddress& mac, const Ipv6Address& address) {
  std::lock_guard lock(mu_);
  auto it = by_mac_.find(mac);
  if (it == by_mac_.end() || it->second.address != address) return;
  EraseLocked(mac);
}

std::optional<Ipv6Address> Ipv6Leases::AddressOf(const MacAddress& mac, std::int64_t now_unix) const {
  std::lock_guard lock(mu_);
  auto it = by_mac_.find(mac);
  if (it == by_mac_.end() || it->second.expires_unix <= now_unix) return std::nullopt;
  return it->second.address;
}

std::optional<MacAddress> Ipv6Leases::MacFor(const Ipv6Address& address, std::int64_t now_unix) const {
  std::lock_guard lock(mu_);
  auto a = by_address_.find(address);
  if (a == by_address_.end()) return std::nullopt;
  auto it = by_mac_.find(a->second);
  if (it == by_mac_.end() || it->second.expires_unix <= now_unix) return std::nullopt;
  return a->second;
}

std::size_t Ipv6Leases::size() const {
  std::lock_guard lock(mu_);
  return by_mac_.size();
}

Ipv6TokenBinding DecideIpv6TokenBinding(const std::optional<Ipv6Address>& lease, const Ipv6Address& peer) {
  if (!lease) return {Ipv6TokenBinding::Kind::kMacOnly, std::nullopt, ""};
  if (*lease != peer)
    return {Ipv6TokenBinding::Kind::kRefused, std::nullopt,
            "installer refused to " + peer.ToString() + ": that MAC holds " + lease->ToString()};
  return {Ipv6TokenBinding::Kind::kBound, peer, ""};
}

bool Ipv6PeerMayRedeem(const Ipv6Address& bound, const Ipv6Address& peer, const std::optional<Ipv6Address>& lease_now) {
  return peer == bound || (lease_now && *lease_now == peer);
}

}  // namespace metalpxe
