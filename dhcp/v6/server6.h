#pragma once
// The DHCPv6 server's socket (UDP 547, joined to ff02::1:2 on
// server.interface), around Dhcp6Responder. Replies go to the client's
// link-local source, port 546, out of the interface the request came in on.
// Runs on the given io_context; Start/Stop from its thread.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "core/config_source.h"
#include "core/result.h"
#include "dhcp/boot_policy.h"
#include "dhcp/v6/responder6.h"

namespace metalpxe::dhcp6 {

using Dhcp6Observer = std::function<void(const Observation6&)>;

struct Dhcp6ServerOptions {
  std::uint16_t port = kServerPort;  // tests may use another
};

class Dhcp6Server {
 public:
  Dhcp6Server(boost::asio::io_context& io, const ConfigSource& config, dhcp::BootPolicy policy,
              Dhcp6Observer observer, Dhcp6ServerOptions options = {});
  ~Dhcp6Server();
  Dhcp6Server(const Dhcp6Server&) = delete;
  Dhcp6Server& operator=(const Dhcp6Server&) = delete;

  Status Start();
  void Stop();

  // For /metrics, as the DHCPv4 server's: messages by RFC 8415 type number
  // (1 SOLICIT .. 13 RELAY-REPL; 0 counts unknown types), drops by reason.
  struct Stats {
    static constexpr std::size_t kTypes = 14;
    std::array<std::uint64_t, kTypes> received_by_type{};
    std::array<std::uint64_t, kTypes> sent_by_type{};
    std::uint64_t received = 0;
    std::uint64_t malformed = 0;         // dropped: did not parse
    std::uint64_t not_link_local = 0;    // dropped: not from an on-link client's link-local address
    std::uint64_t unanswered = 0;        // dropped: parsed, nothing to answer (another server's, mode, relay)
    std::uint64_t send_failed = 0;       // dropped: the reply could not be sent
    std::uint64_t replied = 0;
    std::uint64_t bindings = 0;          // live and quarantined
  };
  // Any thread (the counters are atomics; `bindings` as of the last packet).
  Stats stats() const;
  std::size_t bindings() const;
  std::vector<std::uint8_t> server_duid() const;  // after Start

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace metalpxe::dhcp6
