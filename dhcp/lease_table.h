#pragma once
// Address allocation for full-mode DHCP: pools per subnet, static addresses
// from the inventory, offers held briefly, declined addresses quarantined,
// expired and released leases reused once fresh addresses run out.
//
// Leases are keyed by MAC (chaddr), not by client identifier: one boot is
// three DHCP clients (firmware, iPXE, the installer) with different option 61
// habits, and the machine should keep one address through all of them
// (dnsmasq behaves the same way). Pure state, no I/O; time is passed in.
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/net_types.h"
#include "core/store.h"

namespace metalpxe::dhcp {

struct LeasePool {
  Ipv4Cidr subnet;
  Ipv4Range range;
};

struct LeaseEntry {
  enum class State { kOffered, kActive, kReleased, kDeclined };
  Ipv4Address ip;
  MacAddress mac;              // all zero for a declined address
  std::string client_id;       // option 61 as hex, for the record only
  std::string hostname;
  std::int64_t expires = 0;    // unix seconds; offers: end of the hold
  State state = State::kOffered;
  bool probing = false;        // an offer waiting for its ping-check (not sent yet)
};

class LeaseTable {
 public:
  explicit LeaseTable(std::vector<LeasePool> pools);

  // Static addresses (inventory MachineConfig.ip): never given to anyone else.
  void SetReservations(std::unordered_map<MacAddress, Ipv4Address> reservations);
  // Restores leases from the store at start. Addresses outside every pool's
  // subnet are dropped; of two leases for one MAC the later-expiring wins.
  void Load(const std::vector<LeaseRecord>& leases);

  // Index of the pool whose subnet contains `a`.
  std::optional<std::size_t> PoolFor(Ipv4Address a) const;
  const LeasePool& pool(std::size_t i) const { return pools_[i]; }
  std::size_t pool_count() const { return pools_.size(); }

  // DISCOVER: the address to offer `mac` in pool `p` (RFC 2131 4.3.1 order:
  // reservation, current binding, requested address, a free one, a reusable
  // one), held as an offer until now + hold. nullopt: pool exhausted.
  // `unbound` (when given) says whether the address was bound to no one or
  // to another MAC until now: one the server should ping-check first.
  std::optional<Ipv4Address> Offer(std::size_t p, const MacAddress& mac, std::optional<Ipv4Address> requested,
                                   std::int64_t now, std::int64_t hold, bool* unbound = nullptr);

  // Ping-check bookkeeping: an offer held while its probe runs, and an
  // address found in use by a host we gave no lease (quarantined like a
  // declined one until `until`, in memory only: nothing an unauthenticated
  // client causes is written to the store). Both are no-ops unless `ip` is
  // (still) offered to `mac`.
  void SetProbing(Ipv4Address ip, bool probing);
  void MarkInUse(const MacAddress& mac, Ipv4Address ip, std::int64_t until);

  // REQUEST: may `mac` have `ip` in pool `p` now? false means NAK.
  bool MayLease(std::size_t p, const MacAddress& mac, Ipv4Address ip, std::int64_t now) const;

  // Makes `ip` the active lease of `mac` until `expires`. Returns the
  // address the MAC held before when it changed (its old lease is dropped).
  std::optional<Ipv4Address> Commit(const MacAddress& mac, Ipv4Address ip, std::string client_id,
                                    std::string hostname, std::int64_t expires);

  // RELEASE: only by the holder. Returns true when something changed.
  bool Release(const MacAddress& mac, Ipv4Address ip, std::int64_t now);
  // DECLINE: the address is in use by someone we do not know: quarantine it.
  bool Decline(const MacAddress& mac, Ipv4Address ip, std::int64_t until);

  const LeaseEntry* FindByIp(Ipv4Address ip) const;
  const LeaseEntry* FindByMac(const MacAddress& mac) const;
  std::optional<Ipv4Address> ReservationFor(const MacAddress& mac) const;

  // Active, released and declined leases, as the store keeps them.
  std::vector<LeaseRecord> Records() const;
  std::size_t size() const { return by_ip_.size(); }

  static LeaseRecord ToRecord(const LeaseEntry& e);

 private:
  bool Usable(const LeaseEntry* e, const MacAddress& mac, std::int64_t now) const;
  bool ReservedForOther(Ipv4Address ip, const MacAddress& mac) const;
  std::optional<Ipv4Address> FreshAddress(std::size_t p, const MacAddress& mac);
  std::optional<Ipv4Address> ReusableAddress(std::size_t p, const MacAddress& mac, std::int64_t now) const;
  void Bind(const MacAddress& mac, Ipv4Address ip);

  std::vector<LeasePool> pools_;
  std::vector<std::uint64_t> cursor_;      // next offset to try in each pool
  std::vector<bool> fresh_exhausted_;      // a full scan found no never-used address
  std::unordered_map<Ipv4Address, LeaseEntry> by_ip_;
  std::unordered_map<MacAddress, Ipv4Address> by_mac_;
  std::unordered_map<MacAddress, Ipv4Address> reservations_;
  std::unordered_map<Ipv4Address, MacAddress> reserved_ips_;
};

}  // namespace metalpxe::dhcp
