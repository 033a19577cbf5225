#pragma once
// The directory TFTP serves, and the only way files are opened from it.
// Request names are confined to the root: a leading '/' is stripped and the
// rest taken relative to the root (as tftpd-hpa -s does), any ".." component
// is refused, and symlinks may not lead out: paths resolve with openat2
// RESOLVE_BENEATH, or, on kernels without openat2, by realpath and a prefix
// check (that fallback has a rename race an attacker with write access to
// the root could use; with openat2 there is none).
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/unique_fd.h"

namespace metalpxe::tftp {

struct OpenedFile {
  UniqueFd fd;
  std::uint64_t size = 0;
};

class TftpRoot {
 public:
  // dir must exist and be a directory.
  static Result<TftpRoot> Open(const std::string& dir);

  // Opens a request's filename for reading. Errors: kNotFound (no such
  // file), kPermissionDenied (escape attempt, not a regular file, unreadable).
  Result<OpenedFile> OpenForRead(std::string_view filename) const;

  const std::string& path() const { return real_path_; }

 private:
  TftpRoot() = default;
  Result<OpenedFile> OpenFallback(const std::string& relative) const;

  UniqueFd dir_fd_;
  std::string real_path_;
  bool have_openat2_ = false;
};

}  // namespace metalpxe::tftp
