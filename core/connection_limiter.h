#pragma once
// Per-client and whole-server connection accounting for the TCP receivers
// (Talos event sink, kernel logs): a plain decision over plain counts, so a
// host that opens thousands of connections gets only its own share and the
// rest of the server's room stays for everyone else. Not thread-safe: each
// server calls it from the one thread that accepts and closes.
//
// A client is one address, IPv4 or IPv6 alike: the full 128-bit IPv6
// address, not its /64. Every machine of an IPv6 management network sits in
// the same /64 (fd00:66::/64 with DHCPv6 addresses), so keying by prefix
// would put a whole rack under one client's share in a boot storm; a host
// that binds many addresses of its prefix is bounded by the server total,
// as an IPv4 host that answers ARP for many addresses is.
#include <cstddef>
#include <unordered_map>

#include "core/net_types.h"

namespace metalpxe {

struct ConnectionLimits {
  std::size_t total = 1024;      // whole server
  std::size_t per_client = 16;   // one client address
};

class ConnectionLimiter {
 public:
  enum class Verdict { kAdmit, kClientFull, kServerFull };

  explicit ConnectionLimiter(ConnectionLimits limits) : limits_(limits) {}

  // Counts the connection when it is admitted; the caller Release()s it once.
  Verdict Admit(const IpAddress& client);
  void Release(const IpAddress& client);

  std::size_t total() const { return total_; }
  std::size_t Of(const IpAddress& client) const;
  std::size_t clients() const { return per_client_.size(); }
  const ConnectionLimits& limits() const { return limits_; }

 private:
  ConnectionLimits limits_;
  std::size_t total_ = 0;
  std::unordered_map<IpAddress, std::size_t> per_client_;  // only clients with >= 1
};

const char* VerdictName(ConnectionLimiter::Verdict v);

}  // namespace metalpxe
