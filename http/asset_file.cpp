#include "http/asset_file.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <memory>

#include "http/asset_path.h"

namespace metalpxe::http {
namespace {

// realpath() into a std::string; nullopt-like empty string on failure.
std::string RealPath(const std::string& path, int* err) {
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr), &std::free);
  if (!resolved) {
    *err = errno;
    return {};
  }
  *err = 0;
  return resolved.get();
}

}  // namespace

Result<OpenedAsset> OpenAsset(std::string_view rel, const std::vector<std::string>& roots) {
  const auto clean = SanitizeRelativePath(rel);
  if (!clean) return {ErrorCode::kInvalidArgument, "path has '.', '..', NUL or backslash segments"};
  if (clean->empty()) return {ErrorCode::kNotFound, "directory"};

  for (const auto& root : roots) {
    int err = 0;
    const std::string real_root = RealPath(root, &err);
    if (real_root.empty()) continue;  // a root that does not exist (yet) holds nothing
    const std::string real = RealPath(real_root + "/" + *clean, &err);
    if (real.empty()) {
      if (err == ENOENT || err == ENOTDIR) continue;
      return {ErrorCode::kNotFound, "cannot resolve"};
    }
    if (!IsWithinRoot(real_root, real)) return {ErrorCode::kPermissionDenied, "resolves outside its root"};

    // O_NOFOLLOW: `real` has no symlinks left, so one appearing now is a race.
    // O_NONBLOCK: opening a FIFO must not hang a worker; fstat rejects it next.
    UniqueFd fd(::open(real.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK));
    if (!fd.valid()) return {ErrorCode::kNotFound, "cannot open"};
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return {ErrorCode::kNotFound, "not a regular file"};
    OpenedAsset asset;
    asset.fd = std::move(fd);
    asset.size = static_cast<std::uint64_t>(st.st_size);
    asset.mtime_ns = std::int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    asset.real_path = real;
    return asset;
  }
  return {ErrorCode::kNotFound, "not found"};
}

}  // namespace metalpxe::http
