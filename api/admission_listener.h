#pragma once
// A TCP listener that admits connections by per-client and total limits
// before handing them on, for a server that cannot limit its own (gRPC C++
// 1.51 has no per-client connection limit and no cap on accepted sockets: a
// host opening thousands of idle connections would take every file the
// daemon may open). Admitted sockets go to the consumer, which owns and
// closes them (gRPC's ExternalConnectionAcceptor); the rest are closed at once.
//
// The consumer never tells us when it closes a socket, so each admitted one
// is remembered by fd number and socket inode: a connection counts as gone
// once its fd no longer names that socket (fstat), checked for a client when
// it reaches its limit, for all when the server is full, and every second.
// Nothing is held open on the consumer's behalf.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/connection_limiter.h"
#include "core/net_types.h"
#include "core/result.h"
#include "core/unique_fd.h"

namespace metalpxe {

struct AdmissionCounters {
  std::uint64_t admitted = 0;
  std::uint64_t refused_client_full = 0;
  std::uint64_t refused_server_full = 0;
  std::uint64_t open = 0;  // admitted and not yet seen closed
};

class AdmissionListener {
 public:
  // Gets each admitted socket (non-blocking, close-on-exec) and the listener fd.
  using Handoff = std::function<void(int fd, int listener_fd)>;

  AdmissionListener(ConnectionLimits limits, Handoff handoff);
  ~AdmissionListener();  // Stop()
  AdmissionListener(const AdmissionListener&) = delete;
  AdmissionListener& operator=(const AdmissionListener&) = delete;

  // Binds (in the calling thread's network namespace) and starts accepting.
  // An IPv6 address ("::" with server.address6) listens dual-stack: IPv4
  // peers arrive IPv4-mapped and count as the IPv4 address.
  Status Start(const std::string& address, std::uint16_t port);
  void Stop();  // idempotent; admitted sockets stay with the consumer
  std::uint16_t port() const { return port_; }
  AdmissionCounters counters() const;

 private:
  struct Admitted {
    int fd;
    std::uint64_t inode;
  };
  void Run();
  void OnAccept(UniqueFd fd, const IpAddress& peer);
  void Reconcile(const IpAddress& peer);  // drops the peer's connections that are gone
  void ReconcileAll();

  ConnectionLimiter limiter_;
  Handoff handoff_;
  UniqueFd listener_;
  UniqueFd wake_;  // eventfd: Stop() wakes the accept thread
  std::uint16_t port_ = 0;
  std::thread thread_;
  // Accept thread only.
  std::map<IpAddress, std::vector<Admitted>> admitted_;
  std::int64_t last_full_reconcile_ms_ = 0;
  std::int64_t last_refusal_warning_ms_ = -1'000'000;
  std::atomic<std::uint64_t> n_admitted_{0}, n_client_full_{0}, n_server_full_{0}, n_open_{0};
};

}  // namespace metalpxe
