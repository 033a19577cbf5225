#pragma once
// The Talos event sink: a plaintext gRPC server implementing
// events.EventSinkService/Publish, as Talos dials it from the kernel argument
// `talos.events.sink=<ip>:<port>`. Each event is decoded into a TalosEvent and
// handed to the callback; the machine is identified by the peer's address
// (IPv4, or IPv6 when it listens on "::" with server.address6: dual-stack).
//
// Bad neighbours: Talos dials one connection per machine and sends one event
// at a time. Connections are admitted by an AdmissionListener (per address
// and in all) before gRPC sees them; gRPC then closes a connection that has
// not completed its HTTP/2 handshake in time, one with no call for a while
// (GOAWAY, the client reconnects on its next event), one whose peer stopped
// answering keepalive pings, and bounds streams, message size, threads and
// memory. The defaults are for a user never to touch.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/talos_event.h"
#include "core/result.h"

namespace metalpxe {

struct EventSinkOptions {
  // A boot storm of 1,000 machines, one connection each, twice over; a
  // machine that rebooted before its old connection was found dead has two.
  std::size_t max_connections = 2048;
  std::size_t per_client_connections = 8;
  std::chrono::milliseconds handshake_timeout{10'000};        // accepted -> HTTP/2 SETTINGS received
  std::chrono::milliseconds max_connection_idle{5 * 60'000};  // no call in flight
  std::chrono::milliseconds max_connection_age{30 * 60'000};  // then GOAWAY, calls in flight get...
  std::chrono::milliseconds max_connection_age_grace{60'000}; // ...this long to finish
  std::chrono::milliseconds keepalive_time{60'000};           // server pings an idle connection
  std::chrono::milliseconds keepalive_timeout{20'000};        // and closes it without an answer
  int max_concurrent_streams = 8;                             // per connection
  int max_message_bytes = 256 * 1024;                         // events are a few hundred bytes
  int max_threads = 32;                                       // gRPC's sync-server threads
  std::size_t memory_bytes = 64u << 20;                       // gRPC resource quota
};

struct EventSinkCounters {
  std::uint64_t received = 0;      // Publish calls
  std::uint64_t delivered = 0;     // handed to the callback (known and unknown types)
  std::uint64_t unknown_type = 0;  // delivered with known_type=false
  std::uint64_t malformed = 0;     // dropped with INVALID_ARGUMENT
  std::uint64_t no_ipv4_peer = 0;  // dropped: the peer was not an IP address (a unix socket)
  std::uint64_t connections = 0;            // admitted and handed to gRPC
  std::uint64_t refused_connections = 0;    // closed at once: a client or the server at its limit
};

class EventSinkServer {
 public:
  // Called on a gRPC worker thread, possibly from several at once: it must be
  // thread-safe and should return quickly (Talos waits for the reply before
  // sending its next event).
  using Callback = std::function<void(const TalosEvent&)>;

  // listen_address: "0.0.0.0", "::" (dual-stack) or an address; port 0 picks a free one.
  EventSinkServer(std::string listen_address, std::uint16_t port, Callback callback,
                  EventSinkOptions options = EventSinkOptions{});
  ~EventSinkServer();  // Shutdown()
  EventSinkServer(const EventSinkServer&) = delete;
  EventSinkServer& operator=(const EventSinkServer&) = delete;

  Status Start();
  void Shutdown();  // idempotent; in-flight calls finish first
  std::uint16_t port() const { return bound_port_; }  // valid after Start()
  EventSinkCounters counters() const;

 private:
  class Service;
  std::string listen_address_;
  std::uint16_t requested_port_;
  EventSinkOptions options_;
  std::uint16_t bound_port_ = 0;
  std::unique_ptr<Service> service_;
  struct GrpcServer;
  std::unique_ptr<GrpcServer> server_;
};

}  // namespace metalpxe
