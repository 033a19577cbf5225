#pragma once
// Runs one command over SSH (libssh) with public-key auth: used to write the
// Talos image (or kexec the installer) from a Hetzner rescue system. The
// rescue system's host key is new on every activation and Robot lists it in
// its answer to the activation: the key is pinned to that list before
// anything is sent (no authentication, no command, no data), never trusted
// on first use.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace metalpxe {

struct SshTarget {
  std::string host;
  std::uint16_t port = 22;
  std::string user = "root";
  std::string private_key_file;
  // MD5 fingerprints ("aa:bb:...") the host key must match; empty = refuse.
  std::vector<std::string> pinned_host_keys;
};

struct SshExecResult {
  std::optional<int> exit_status;  // nullopt: the connection ended first (e.g. kexec -e)
  std::string output;              // stdout + stderr, bounded
};

// Connects, checks the host key against the pins, authenticates, runs
// `command` and, when `stdin_file` is set, streams that file into it then
// closes its input. kUnavailable when nothing answers or our key is refused
// (the machine may still be booting its old OS); kPermissionDenied for an
// unusable private key file; kFailedPrecondition, with both fingerprints,
// when the host key is not pinned (the old OS, or an impostor): nothing was
// sent.
Result<SshExecResult> SshExec(const SshTarget& target, const std::string& command,
                              std::chrono::milliseconds timeout, const std::string& stdin_file = "");
inline constexpr std::string_view kHostKeyNotPinned = "host key not among the ones Robot listed";

// MD5 fingerprint of the key's public half, "aa:bb:...", as Robot lists keys.
Result<std::string> SshKeyMd5Fingerprint(const std::string& private_key_file);

}  // namespace metalpxe
