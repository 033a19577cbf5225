#pragma once
// The Talos event sink: a plaintext gRPC server implementing
// events.EventSinkService/Publish, as Talos dials it from the kernel argument
// `talos.events.sink=<ip>:<port>`. Each event is decoded into a TalosEvent and
// handed to the callback; the machine is identified by the peer's IPv4 address.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/talos_event.h"
#include "core/result.h"

namespace metalpxe {

struct EventSinkCounters {
  std::uint64_t received = 0;      // Publish calls
  std::uint64_t delivered = 0;     // handed to the callback (known and unknown types)
  std::uint64_t unknown_type = 0;  // delivered with known_type=false
  std::uint64_t malformed = 0;     // dropped with INVALID_ARGUMENT
  std::uint64_t no_ipv4_peer = 0;  // dropped: the peer was not an IPv4 (or mapped) address
};

class EventSinkServer {
 public:
  // Called on a gRPC worker thread, possibly from several at once: it must be
  // thread-safe and should return quickly (Talos waits for the reply before
  // sending its next event).
  using Callback = std::function<void(const TalosEvent&)>;

  // listen_address: "0.0.0.0" or the appliance address; port 0 picks a free one.
  EventSinkServer(std::string listen_address, std::uint16_t port, Callback callback);
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
  std::uint16_t bound_port_ = 0;
  std::unique_ptr<Service> service_;
  struct GrpcServer;
  std::unique_ptr<GrpcServer> server_;
};

}  // namespace metalpxe
