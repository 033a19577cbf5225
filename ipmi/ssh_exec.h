#pragma once
// Runs one command over SSH (libssh) with public-key auth: used to kexec the
// installer from a Hetzner rescue system. The rescue system's host key is new
// on every activation, so it is not pinned (see robot_driver.h).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "core/result.h"

namespace metalpxe {

struct SshTarget {
  std::string host;
  std::uint16_t port = 22;
  std::string user = "root";
  std::string private_key_file;
};

struct SshExecResult {
  std::optional<int> exit_status;  // nullopt: the connection ended first (e.g. kexec -e)
  std::string output;              // stdout + stderr, bounded
};

// Connects and authenticates; kUnavailable when nothing answers or the key is
// refused (the machine may still be booting its old OS), kPermissionDenied
// only for an unusable private key file.
Result<SshExecResult> SshExec(const SshTarget& target, const std::string& command,
                              std::chrono::milliseconds timeout);

// MD5 fingerprint of the key's public half, "aa:bb:...", as Robot lists keys.
Result<std::string> SshKeyMd5Fingerprint(const std::string& private_key_file);

}  // namespace metalpxe
