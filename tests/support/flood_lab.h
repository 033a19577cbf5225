#pragma once
// A lab for flood tests: one server namespace and several host namespaces,
// each host on its own veth link to the server (host i reaches the server at
// 10.77.i.1 from 10.77.i.2), and TcpFlood, which holds thousands of idle TCP
// connections from one host the way a bad neighbour would. The server under
// test runs in-process with its listening socket created inside the server
// namespace (ScopedNetNsEnter), so nothing listens or sends outside the lab.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/netns.h"

namespace metalpxe::testing {

class FloodLab {
 public:
  FloodLab(const std::string& tag, int hosts);
  const NetNs& server() const { return server_; }
  const NetNs& host(int i) const { return *hosts_.at(std::size_t(i - 1)); }  // 1-based
  static std::string ServerAddressFor(int i) { return "10.77." + std::to_string(i) + ".1"; }
  static std::string HostAddress(int i) { return "10.77." + std::to_string(i) + ".2"; }

 private:
  NetNs server_;
  std::vector<std::unique_ptr<NetNs>> hosts_;
};

// Idle TCP connections from inside one namespace. Counts are read from the
// sockets themselves: a connection the server closed (FIN or RST) or never
// completed is not open.
class TcpFlood {
 public:
  TcpFlood(std::string netns, std::string address, std::uint16_t port);
  ~TcpFlood();  // closes every socket
  TcpFlood(const TcpFlood&) = delete;
  TcpFlood& operator=(const TcpFlood&) = delete;

  // Starts `count` more connections (non-blocking) and waits, at most
  // `deadline`, until each has completed or failed. Returns how many the
  // kernel completed (a completed one may already be closed by the server).
  std::size_t Open(std::size_t count, std::chrono::milliseconds deadline);
  // Connections still open now (the server has not closed them); reads and
  // drops whatever the server sent on them.
  std::size_t OpenNow();
  std::size_t attempted() const { return fds_.size(); }

 private:
  std::string netns_, address_;
  std::uint16_t port_;
  std::vector<int> fds_;
};

}  // namespace metalpxe::testing
