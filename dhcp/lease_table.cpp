#include "dhcp/lease_table.h"

namespace metalpxe::dhcp {

LeaseTable::LeaseTable(std::vector<LeasePool> pools)
    : pools_(std::move(pools)), cursor_(pools_.size(), 0), fresh_exhausted_(pools_.size(), false) {}

void LeaseTable::SetReservations(std::unordered_map<MacAddress, Ipv4Address> reservations) {
  reservations_ = std::move(reservations);
  reserved_ips_.clear();
  for (const auto& [mac, ip] : reservations_) reserved_ips_[ip] = mac;
}

void LeaseTable::Load(const std::vector<LeaseRecord>& leases) {
  for (const auto& r : leases) {
    if (!PoolFor(r.ip)) continue;
    LeaseEntry e;
    e.ip = r.ip;
    e.mac = r.mac;
    e.client_id = r.client_id;
    e.hostname = r.hostname;
    e.expires = r.expires_unix;
    e.state = r.kind == LeaseRecord::Kind::kActive     ? LeaseEntry::State::kActive
              : r.kind == LeaseRecord::Kind::kReleased ? LeaseEntry::State::kReleased
                                                       : LeaseEntry::State::kDeclined;
    if (e.state != LeaseEntry::State::kDeclined) {
      auto it = by_mac_.find(e.mac);
      if (it != by_mac_.end()) {
        const auto& other = by_ip_.at(it->second);
        if (other.expires >= e.expires) continue;
        by_ip_.erase(it->second);
      }
      by_mac_[e.mac] = e.ip;
    }
    by_ip_[e.ip] = std::move(e);
  }
}

std::optional<std::size_t> LeaseTable::PoolFor(Ipv4Address a) const {
  for (std::size_t i = 0; i < pools_.size(); ++i)
    if (pools_[i].subnet.Contains(a)) return i;
  return std::nullopt;
}

bool LeaseTable::ReservedForOther(Ipv4Address ip, const MacAddress& mac) const {
  auto it = reserved_ips_.find(ip);
  return it != reserved_ips_.end() && it->second != mac;
}

// Can `mac` take the address whose entry is `e` (nullptr: never used)?
bool LeaseTable::Usable(const LeaseEntry* e, const MacAddress& mac, std::int64_t now) const {
  if (e == nullptr) return true;
  if (e->state == LeaseEntry::State::kDeclined) return e->expires <= now;
  if (e->mac == mac) return true;
  if (e->state == LeaseEntry::State::kReleased) return true;
  return e->expires <= now;  // expired offer or lease
}

std::optional<Ipv4Address> LeaseTable::ReservationFor(const MacAddress& mac) const {
  auto it = reservations_.find(mac);
  if (it == reservations_.end()) return std::nullopt;
  return it->second;
}

const LeaseEntry* LeaseTable::FindByIp(Ipv4Address ip) const {
  auto it = by_ip_.find(ip);
  return it == by_ip_.end() ? nullptr : &it->second;
}

const LeaseEntry* LeaseTable::FindByMac(const MacAddress& mac) const {
  auto it = by_mac_.find(mac);
  return it == by_mac_.end() ? nullptr : FindByIp(it->second);
}

std::optional<Ipv4Address> LeaseTable::FreshAddress(std::size_t p, const MacAddress& mac) {
  if (fresh_exhausted_[p]) return std::nullopt;
  const auto& range = pools_[p].range;
  const std::uint64_t size = range.Size();
  for (std::uint64_t n = 0; n < size; ++n) {
    const std::uint64_t off = (cursor_[p] + n) % size;
    const Ipv4Address ip{static_cast<std::uint32_t>(range.first.value + off)};
    if (by_ip_.count(ip) != 0 || ReservedForOther(ip, mac)) continue;
    cursor_[p] = (off + 1) % size;
    return ip;
  }
  fresh_exhausted_[p] = true;
  return std::nullopt;
}

// The reusable address (expired, released, out of quarantine) that has been
// free the longest, so a returning client most likely finds its own intact.
std::optional<Ipv4Address> LeaseTable::ReusableAddress(std::size_t p, const MacAddress& mac,
                                                       std::int64_t now) const {
  const LeaseEntry* best = nullptr;
  for (const auto& [ip, e] : by_ip_) {
    if (!pools_[p].range.Contains(ip) || ReservedForOther(ip, mac) || !Usable(&e, mac, now)) continue;
    if (best == nullptr || e.expires < best->expires) best = &e;
  }
  if (best == nullptr) return std::nullopt;
  return best->ip;
}

void LeaseTable::Bind(const MacAddress& mac, Ipv4Address ip) {
  auto it = by_mac_.find(mac);
  if (it != by_mac_.end() && it->second != ip) {
    // The MAC moves: drop its old offer; an old lease stays, released.
    auto old = by_ip_.find(it->second);
    if (old != by_ip_.end() && old->second.mac == mac) {
      if (old->second.state == LeaseEntry::State::kOffered)
        by_ip_.erase(old);
      else
        old->second.state = LeaseEntry::State::kReleased;
    }
  }
  auto& e = by_ip_[ip];
  if (e.mac != mac) {
    // Taking over another MAC's expired lease: that MAC's binding goes.
    auto prev = by_mac_.find(e.mac);
    if (prev != by_mac_.end() && prev->second == ip) by_mac_.erase(prev);
  }
  by_mac_[mac] = ip;
}

std::optional<Ipv4Address> LeaseTable::Offer(std::size_t p, const MacAddress& mac,
                                             std::optional<Ipv4Address> requested, std::int64_t now,
                                             std::int64_t hold, bool* unbound) {
  const auto& pool = pools_[p];
  std::optional<Ipv4Address> pick;
  if (auto r = ReservationFor(mac); r && pool.subnet.Contains(*r) && Usable(FindByIp(*r), mac, now)) pick = r;
  if (!pick) {
    const LeaseEntry* cur = FindByMac(mac);
    if (cur != nullptr && cur->state != LeaseEntry::State::kDeclined && pool.range.Contains(cur->ip) &&
        !ReservedForOther(cur->ip, mac))
      pick = cur->ip;
  }
  if (!pick && requested && pool.range.Contains(*requested) && !ReservedForOther(*requested, mac) &&
      Usable(FindByIp(*requested), mac, now))
    pick = requested;
  if (!pick) pick = FreshAddress(p, mac);
  if (!pick) pick = ReusableAddress(p, mac, now);
  if (!pick) return std::nullopt;

  if (unbound != nullptr) {
    const LeaseEntry* before = FindByIp(*pick);
    *unbound = before == nullptr || before->mac != mac || before->state == LeaseEntry::State::kDeclined ||
               before->state == LeaseEntry::State::kReleased;
  }
  Bind(mac, *pick);
  auto& e = by_ip_[*pick];
  const bool keep_active = e.mac == mac && e.state == LeaseEntry::State::kActive && e.expires > now;
  e.ip = *pick;
  if (!keep_active) {
    e.mac = mac;
    e.state = LeaseEntry::State::kOffered;
    e.expires = now + hold;
  }
  return pick;
}

bool LeaseTable::MayLease(std::size_t p, const MacAddress& mac, Ipv4Address ip, std::int64_t now) const {
  const auto& pool = pools_[p];
  if (!pool.subnet.Contains(ip)) return false;
  if (auto r = ReservationFor(mac); r && pool.subnet.Contains(*r)) return *r == ip && Usable(FindByIp(ip), mac, now);
  if (!pool.range.Contains(ip) || ReservedForOther(ip, mac)) return false;
  return Usable(FindByIp(ip), mac, now);
}

std::optional<Ipv4Address> LeaseTable::Commit(const MacAddress& mac, Ipv4Address ip, std::string client_id,
                                              std::string hostname, std::int64_t expires) {
  std::optional<Ipv4Address> previous;
  if (auto it = by_mac_.find(mac); it != by_mac_.end() && it->second != ip) previous = it->second;
  Bind(mac, ip);
  auto& e = by_ip_[ip];
  e.ip = ip;
  e.mac = mac;
  e.client_id = std::move(client_id);
  if (!hostname.empty()) e.hostname = std::move(hostname);
  e.expires = expires;
  e.state = LeaseEntry::State::kActive;
  return previous;
}

void LeaseTable::SetProbing(Ipv4Address ip, bool probing) {
  auto it = by_ip_.find(ip);
  if (it != by_ip_.end()) it->second.probing = probing && it->second.state == LeaseEntry::State::kOffered;
}

void LeaseTable::MarkInUse(const MacAddress& mac, Ipv4Address ip, std::int64_t until) {
  auto it = by_ip_.find(ip);
  if (it == by_ip_.end() || it->second.mac != mac || it->second.state != LeaseEntry::State::kOffered) return;
  it->second.probing = false;
  Decline(mac, ip, until);
}

bool LeaseTable::Release(const MacAddress& mac, Ipv4Address ip, std::int64_t now) {
  auto it = by_ip_.find(ip);
  if (it == by_ip_.end() || it->second.mac != mac || it->second.state != LeaseEntry::State::kActive) return false;
  it->second.state = LeaseEntry::State::kReleased;
  it->second.expires = now;
  return true;
}

bool LeaseTable::Decline(const MacAddress& mac, Ipv4Address ip, std::int64_t until) {
  auto it = by_ip_.find(ip);
  if (it == by_ip_.end() || it->second.mac != mac) return false;
  if (auto m = by_mac_.find(mac); m != by_mac_.end() && m->second == ip) by_mac_.erase(m);
  it->second.mac = MacAddress{};
  it->second.client_id.clear();
  it->second.hostname.clear();
  it->second.state = LeaseEntry::State::kDeclined;
  it->second.expires = until;
  return true;
}

LeaseRecord LeaseTable::ToRecord(const LeaseEntry& e) {
  LeaseRecord r;
  r.ip = e.ip;
  r.mac = e.mac;
  r.client_id = e.client_id;
  r.hostname = e.hostname;
  r.expires_unix = e.expires;
  r.kind = e.state == LeaseEntry::State::kDeclined   ? LeaseRecord::Kind::kDeclined
           : e.state == LeaseEntry::State::kReleased ? LeaseRecord::Kind::kReleased
                                                     : LeaseRecord::Kind::kActive;
  return r;
}

std::vector<LeaseRecord> LeaseTable::Records() const {
  std::vector<LeaseRecord> out;
  out.reserve(by_ip_.size());
  for (const auto& [ip, e] : by_ip_)
    if (e.state != LeaseEntry::State::kOffered) out.push_back(ToRecord(e));
  return out;
}

}  // namespace metalpxe::dhcp
