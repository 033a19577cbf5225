#pragma once
// Network namespaces for integration tests (LAB-NOTES.md "Network namespace
// lab"). Every namespace a test makes is named after the test process, so
// parallel runs never collide, and is deleted in the destructor, so a failed
// assertion leaves nothing behind. Nothing here touches the host's own
// interfaces: links are created inside the namespaces.
#include <string>
#include <vector>

#include "core/result.h"

namespace metalpxe::testing {

class NetNs {
 public:
  // Creates "mpx-<tag>-<pid>-<n>" with loopback up. Throws on failure (tests only).
  explicit NetNs(const std::string& tag);
  ~NetNs();
  NetNs(const NetNs&) = delete;
  NetNs& operator=(const NetNs&) = delete;

  const std::string& name() const { return name_; }
  // Runs `ip -n NAME <args...>`; throws with the command output on failure.
  void Ip(const std::vector<std::string>& args) const;
  // Runs a shell command line inside the namespace; throws on non-zero exit.
  std::string Sh(const std::string& command_line) const;

 private:
  std::string name_;
};

// Two namespaces joined by a veth pair: `server` gets server_cidr on
// "veth-s", `client` gets client_cidr on "veth-c" (either may be empty: no
// address, e.g. for a DHCP client). Both ends up.
struct VethPair {
  VethPair(const std::string& tag, const std::string& server_cidr, const std::string& client_cidr);
  NetNs server;
  NetNs client;
};

// Enters a namespace for the calling thread only (setns), restoring the old
// one on destruction: lets a test create a server's sockets inside a
// namespace while the server runs in-process.
class ScopedNetNsEnter {
 public:
  explicit ScopedNetNsEnter(const std::string& name);
  ~ScopedNetNsEnter();
  ScopedNetNsEnter(const ScopedNetNsEnter&) = delete;
  ScopedNetNsEnter& operator=(const ScopedNetNsEnter&) = delete;

 private:
  int old_fd_ = -1;
};

}  // namespace metalpxe::testing
