#pragma once
// EtcdKeepAlive: keeps one etcd lease alive over a LeaseKeepAlive stream and
// says when it can no longer be trusted. A keep-alive goes out every third
// of the TTL; each answer proves the lease alive until the time its request
// was sent plus the TTL etcd answered with, so the client's view is never
// later than the server's. When that time is near (half a second, or a
// quarter of the TTL, before it) without a fresh answer (stream broken
// everywhere, no quorum), or etcd answers that the lease is gone, on_lost
// runs once and the keeper stops: whoever relied on the lease
// (a leader) must stop acting on it at once.
//
// The stream is opened again on the next endpoint when it breaks.
// on_lost runs on the client's io thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "etcd/etcd_client.h"

namespace metalpxe::etcd {

class EtcdKeepAlive {
 public:
  using Clock = std::chrono::steady_clock;
  // `granted_at`: when the LeaseGrant request was sent (the lease is
  // certainly alive until granted_at + ttl).
  static std::unique_ptr<EtcdKeepAlive> Start(std::shared_ptr<EtcdClient> client, std::int64_t lease_id,
                                              std::int64_t ttl_seconds, Clock::time_point granted_at,
                                              std::function<void(const Status&)> on_lost);
  // Stops sending keep-alives (the lease then expires on its own unless
  // revoked); once it returns on_lost will not run. Safe on the io thread.
  ~EtcdKeepAlive();
  EtcdKeepAlive(const EtcdKeepAlive&) = delete;
  EtcdKeepAlive& operator=(const EtcdKeepAlive&) = delete;

  std::int64_t lease_id() const;
  // Until when the lease is known to be alive. Thread-safe.
  Clock::time_point valid_until() const;

  struct Core;

 private:
  EtcdKeepAlive(std::shared_ptr<EtcdClient> client, std::shared_ptr<Core> core);
  std::shared_ptr<EtcdClient> client_;
  std::shared_ptr<Core> core_;
};

}  // namespace metalpxe::etcd
