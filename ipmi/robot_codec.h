#pragma once
// Hetzner Robot web service documents: JSON errors
// {"error":{"status":..,"code":"..","message":".."}}, the server, rescue and
// reset resources. Pure functions over JSON text; malformed input is an
// error value, never UB.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace metalpxe {

struct RobotError {
  int status = 0;
  std::string code;     // "RATE_LIMIT_EXCEEDED", "SERVER_NOT_FOUND", ...
  std::string message;
  int max_request = 0;  // RATE_LIMIT_EXCEEDED only
  int interval = 0;     // seconds
};

struct RobotServer {
  std::string server_ip;
  long server_number = 0;
  std::string server_name;
  std::string status;  // "ready" | "in process"
};

struct RobotRescue {
  bool active = false;
  std::string os;
  std::vector<std::string> host_key_fingerprints;  // when the service lists them
};

std::optional<RobotError> ParseRobotError(std::string_view json);
Result<RobotServer> ParseRobotServer(std::string_view json);
Result<RobotRescue> ParseRobotRescue(std::string_view json);
// GET /reset/{n}: {"reset":{"type":["sw","hw","man"],...}}
Result<std::vector<std::string>> ParseRobotResetTypes(std::string_view json);

// The kexec step run over SSH in the rescue system: download kernel and
// initramfs from metalpxe, `kexec -l` with the command line, print a marker,
// `kexec -e`. Every value is shell-quoted.
std::string BuildKexecScript(std::string_view kernel_url, std::string_view initramfs_url,
                             std::string_view command_line);
inline constexpr std::string_view kKexecLoadedMarker = "metalpxe: kexec loaded";

// The image step run over SSH in the rescue system, fed the compressed Talos
// metal image on stdin: keep it in RAM (/tmp is tmpfs in rescue), check its
// sha256 before a byte reaches the disk, find the disk by a stable name
// (`disk` as given when it is /dev/disk/by-*; else its /dev/disk/by-id alias
// in this rescue system; empty: the only disk there is), decompress onto it
// with dd, read the written bytes back and compare their sha256 with the
// image's, then print the marker with the disk's stable name. Exit codes:
// 3 disk not found or ambiguous, 4 image digest wrong, 5 read-back differs,
// 6 no decompressor. `compression` is "zstd" or "xz".
std::string BuildImageInstallScript(std::string_view disk, std::string_view sha256, std::string_view compression);
inline constexpr std::string_view kImageWrittenMarker = "metalpxe: image written to ";
std::string ShellQuote(std::string_view s);

}  // namespace metalpxe
