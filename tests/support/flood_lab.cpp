#include "tests/support/flood_lab.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace metalpxe::testing {

FloodLab::FloodLab(const std::string& tag, int hosts) : server_(tag + "s") {
  for (int i = 1; i <= hosts; ++i) {
    auto host = std::make_unique<NetNs>(tag + "h" + std::to_string(i));
    const std::string link = "vh" + std::to_string(i);
    server_.Ip({"link", "add", link, "type", "veth", "peer", "name", "veth-s", "netns", host->name()});
    server_.Ip({"addr", "add", ServerAddressFor(i) + "/24", "dev", link});
    host->Ip({"addr", "add", HostAddress(i) + "/24", "dev", "veth-s"});
    server_.Ip({"link", "set", link, "up"});
    host->Ip({"link", "set", "veth-s", "up"});
    hosts_.push_back(std::move(host));
  }
}

TcpFlood::TcpFlood(std::string netns, std::string address, std::uint16_t port)
    : netns_(std::move(netns)), address_(std::move(address)), port_(port) {}

TcpFlood::~TcpFlood() {
  for (int fd : fds_) ::close(fd);
}

std::size_t TcpFlood::Open(std::size_t count, std::chrono::milliseconds deadline) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port_);
  if (inet_pton(AF_INET, address_.c_str(), &to.sin_addr) != 1) throw std::runtime_error("bad address " + address_);
  std::vector<pollfd> pending;
  {
    ScopedNetNsEnter enter(netns_);  // sockets belong to the namespace they are created in
    for (std::size_t i = 0; i < count; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) throw std::runtime_error("socket: " + std::to_string(errno));
      fds_.push_back(fd);
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS) continue;
      pending.push_back({fd, POLLOUT, 0});
    }
  }
  const auto end = std::chrono::steady_clock::now() + deadline;
  std::size_t completed = 0;
  while (!pending.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    if (::poll(pending.data(), pending.size(), int(std::min<long>(left.count(), 200))) < 0 && errno != EINTR) break;
    std::vector<pollfd> still;
    for (const auto& p : pending) {
      if (p.revents == 0) {
        still.push_back({p.fd, POLLOUT, 0});
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) ++completed;
    }
    pending.swap(still);
  }
  return completed;
}

std::size_t TcpFlood::OpenNow() {
  std::size_t open = 0;
  for (int fd : fds_) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) continue;
    sockaddr_in peer{};
    socklen_t plen = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0) continue;  // never connected, or reset
    // Drain what the server sent (an HTTP/2 server speaks first), then see
    // whether the stream has ended.
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
    }
    if (n == 0) continue;                                              // FIN from the server
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) continue;    // reset
    ++open;
  }
  return open;
}

}  // namespace metalpxe::testing
