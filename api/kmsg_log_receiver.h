#pragma once
// Receives Talos kernel logs (`talos.logging.kernel=tcp://<ip>:<port>`): JSON
// lines over TCP, one connection per machine. Lines are framed with a length
// bound (an overlong line is dropped and counted, and reading resyncs at the
// next newline), parsed with ParseKmsgLine, and stored per machine key in a
// KmsgLogStore. The key comes from the resolver (machine name for the peer
// IP); an empty answer falls back to the IP. Listening on "::" (with
// server.address6) takes IPv4 and IPv6 senders alike: an IPv4-mapped peer is
// its IPv4 address.
//
// Bad neighbours: one client address holds at most per_client_connections;
// a further connection from it closes that client's stalest one (the newest
// wins: a machine that rebooted reconnects while its old connection, whose
// FIN never came, still looks open). The whole server holds at most
// max_connections, beyond which new ones are closed at once. A connection
// that has not delivered a complete line within silent_timeout is closed.
// Once a sender has spoken it is never closed for being quiet: a booted
// kernel may log nothing for days, and closing it would lose the next line
// Talos writes into a dead socket. TCP keepalive finds senders that are gone.
//
// Runs on the caller's io_context. Start/Stop/destruction may happen on any
// thread; the io_context must outlive this object.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "api/kmsg_log_store.h"
#include "core/net_types.h"
#include "core/result.h"

namespace metalpxe {

struct KmsgLogReceiverOptions {
  std::string listen_address = "0.0.0.0";  // or "::": dual-stack
  std::uint16_t port = 50102;  // 0: pick a free port (tests)
  std::size_t max_line_bytes = 16 * 1024;
  std::size_t max_connections = 2048;      // a boot storm of 1,000 machines, one connection each, twice over
  std::size_t per_client_connections = 4;  // one address
  std::chrono::seconds silent_timeout{15}; // until the first complete line (Talos sends its ring buffer at once)
  std::chrono::seconds keepalive_idle{60}; // TCP keepalive: probes after this much silence, 3 x 10 s
  KmsgLogStoreOptions store;
  // Every parsed line (tokens already redacted) with the address it came
  // from, on the io_context's thread: the boot timeline picks its milestones
  // here. Must only queue.
  std::function<void(const IpAddress& peer, const KmsgLine& line)> line_observer;
};

struct KmsgReceiverCounters {
  std::uint64_t connections = 0;           // accepted
  std::uint64_t rejected_connections = 0;  // closed at once: over max_connections, or no peer address
  std::uint64_t evicted_connections = 0;   // closed for a newer one from the same client address
  std::uint64_t silent_closed = 0;         // closed: no complete line within silent_timeout
  std::uint64_t lines = 0;                 // parsed and stored
  std::uint64_t malformed = 0;             // not a valid kmsg JSON line
  std::uint64_t overlong = 0;              // longer than max_line_bytes, dropped
};

class KmsgLogReceiver {
 public:
  using KeyResolver = std::function<std::string(const IpAddress&)>;

  KmsgLogReceiver(boost::asio::io_context& io, KmsgLogReceiverOptions options, KeyResolver resolver);
  ~KmsgLogReceiver();  // Stop()
  KmsgLogReceiver(const KmsgLogReceiver&) = delete;
  KmsgLogReceiver& operator=(const KmsgLogReceiver&) = delete;

  Status Start();  // binds and listens now; accepting runs on the io_context
  void Stop();     // closes the listener and every connection (asynchronously)
  std::uint16_t port() const { return port_; }

  std::vector<KmsgLine> Tail(const std::string& key, std::size_t n) const;
  KmsgLogStore::SubscriptionId Subscribe(const std::string& key, KmsgLogStore::Follower follower);
  void Unsubscribe(KmsgLogStore::SubscriptionId id);
  KmsgLogStore& store();
  KmsgReceiverCounters counters() const;

  struct Shared;  // state shared with in-flight connections

 private:
  boost::asio::io_context& io_;
  std::shared_ptr<Shared> shared_;
  std::uint16_t port_ = 0;
};

// Splits a byte stream into bounded lines. Pure: feed it chunks, it calls
// on_line for each complete line within the bound and on_overlong once for
// each line that exceeded it. Exposed for tests and the fuzzer.
class LineFramer {
 public:
  explicit LineFramer(std::size_t max_line_bytes) : max_(max_line_bytes) {}
  template <typename OnLine, typename OnOverlong>
  void Feed(std::string_view chunk, OnLine&& on_line, OnOverlong&& on_overlong) {
    while (!chunk.empty()) {
      auto nl = chunk.find('\n');
      std::string_view piece = chunk.substr(0, nl);
      if (!discarding_) {
        if (partial_.size() + piece.size() > max_) {
          discarding_ = true;
          partial_.clear();
          on_overlong();
        } else {
          partial_.append(piece);
        }
      }
      if (nl == std::string_view::npos) return;
      if (!discarding_) on_line(std::string_view(partial_));
      partial_.clear();
      discarding_ = false;
      chunk.remove_prefix(nl + 1);
    }
  }
  // End of stream: a last line without newline still counts.
  template <typename OnLine>
  void Finish(OnLine&& on_line) {
    if (!discarding_ && !partial_.empty()) on_line(std::string_view(partial_));
    partial_.clear();
    discarding_ = false;
  }

 private:
  std::size_t max_;
  std::string partial_;
  bool discarding_ = false;
};

}  // namespace metalpxe
