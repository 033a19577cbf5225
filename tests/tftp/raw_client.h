#pragma once
// A bare UDP TFTP client for tests that need to misbehave on purpose: drop
// or repeat ACKs, never answer, send odd requests, and count every DATA
// packet the server sends. The socket is made inside a network namespace.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pxe/tftp/tftp_packet.h"
#include "tests/support/netns.h"

namespace metalpxe::tftp::testing {

class RawTftpClient {
 public:
  struct Datagram {
    std::vector<std::byte> bytes;
    std::uint16_t from_port = 0;
  };

  explicit RawTftpClient(const std::string& netns) {
    metalpxe::testing::ScopedNetNsEnter enter(netns);
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind");
  }
  ~RawTftpClient() { ::close(fd_); }
  RawTftpClient(const RawTftpClient&) = delete;
  RawTftpClient& operator=(const RawTftpClient&) = delete;

  void SendTo(std::uint16_t port, const std::vector<std::byte>& bytes) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }

  void SendRrq(std::uint16_t port, const std::string& file, std::vector<TftpOption> options = {},
               const std::string& mode = "octet") {
    SendTo(port, EncodeRequest(RequestPacket{Opcode::kRrq, file, mode, std::move(options)}));
  }

  std::optional<Datagram> Receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    Datagram d;
    d.bytes.resize(65536);
    sockaddr_in from{};
    socklen_t len = sizeof from;
    const ssize_t n = ::recvfrom(fd_, d.bytes.data(), d.bytes.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) return std::nullopt;
    d.bytes.resize(static_cast<std::size_t>(n));
    d.from_port = ntohs(from.sin_port);
    return d;
  }

 private:
  int fd_ = -1;
};

}  // namespace metalpxe::tftp::testing
