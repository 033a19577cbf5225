#pragma once
// A DHCP peer the test drives by hand: a UDP socket opened inside a network
// namespace, sending DhcpMessages and collecting parsed replies with a
// bounded wait. Used for PXE clients (crafted options 60/93/77) and for a
// relay-style load generator.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "dhcp/message.h"
#include "tests/support/netns.h"

namespace metalpxe::dhcp::testing {

class UdpPeer {
 public:
  UdpPeer(const std::string& netns, std::uint16_t port, const std::string& device = "",
          Ipv4Address bind_ip = Ipv4Address{}) {
    metalpxe::testing::ScopedNetNsEnter enter(netns);
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    const int buf = 4 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd_, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
    if (!device.empty()) setsockopt(fd_, SOL_SOCKET, SO_BINDTODEVICE, device.c_str(), device.size());
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(bind_ip.value);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("UdpPeer: cannot bind port " + std::to_string(port));
  }
  ~UdpPeer() {
    if (fd_ >= 0) close(fd_);
  }
  UdpPeer(const UdpPeer&) = delete;
  UdpPeer& operator=(const UdpPeer&) = delete;

  void Send(const DhcpMessage& m, Ipv4Address to, std::uint16_t port) {
    auto bytes = SerializeDhcpMessage(m, 1400);
    if (!bytes) throw std::runtime_error("UdpPeer: cannot encode");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(to.value);
    sendto(fd_, bytes->data(), bytes->size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  void SendRaw(const std::vector<std::uint8_t>& bytes, Ipv4Address to, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(to.value);
    sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }

  struct Received {
    DhcpMessage msg;
    Ipv4Address from;
  };
  // Next parsable DHCP message within `timeout`, or nullopt.
  std::optional<Received> Receive(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() < 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      std::vector<std::byte> buf(4096);
      sockaddr_in from{};
      socklen_t len = sizeof from;
      const ssize_t n = recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) continue;
      buf.resize(static_cast<std::size_t>(n));
      auto m = ParseDhcpMessage(buf);
      if (m) return Received{std::move(m).value(), Ipv4Address{ntohl(from.sin_addr.s_addr)}};
    }
  }
  // All messages with `xid` arriving within `window`.
  std::vector<Received> Collect(std::uint32_t xid, std::chrono::milliseconds window) {
    std::vector<Received> out;
    const auto deadline = std::chrono::steady_clock::now() + window;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return out;
      auto r = Receive(left);
      if (r && r->msg.xid == xid) out.push_back(std::move(*r));
    }
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

}  // namespace metalpxe::dhcp::testing
