#pragma once
// Stand-in for a Hetzner rescue system: OpenSSH's sshd in the test's network
// namespace with its own host key and authorized_keys in a temp dir, and a
// `kexec` stand-in first in PATH that records its arguments (and copies the
// kernel/initrd it was given) instead of executing anything.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "tests/support/subprocess.h"

namespace metalpxe::testing {

class RescueSshd {
 public:
  // Creates the dir, keys (a client key pair for metalpxe, a host key) and
  // config; sshd is not started until Start().
  RescueSshd(std::string netns, std::uint16_t port);
  ~RescueSshd();

  const std::string& client_key() const { return client_key_; }  // private key file for the driver
  std::uint16_t port() const { return port_; }
  std::string ClientKeyMd5() const;  // ssh-keygen -l -E md5, "aa:bb:..."
  std::string HostPublicKey() const; // the sshd's host key, an OpenSSH public key line
  void Start();                      // thread-safe, idempotent
  bool started() const;
  std::string KexecLog() const;      // one line per kexec call: "kexec [arg] [arg]..."
  std::string LoadedKernel() const;  // bytes of the kernel file kexec -l got
  std::string LoadedInitrd() const;
  std::string SshdLog() const;

 private:
  std::string netns_, dir_, client_key_;
  std::uint16_t port_;
  mutable std::mutex mu_;
  std::unique_ptr<Subprocess> sshd_;
};

// A TCP port nothing listens on right now (bind to 0, read, close).
std::uint16_t FreeTcpPort();

}  // namespace metalpxe::testing
