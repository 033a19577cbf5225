#include "pxe/tftp/tftp_root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace metalpxe::tftp {
namespace {

// glibc 2.36 has no openat2() wrapper.
int OpenAt2(int dirfd, const char* path, std::uint64_t flags, std::uint64_t resolve) {
  struct open_how how {};
  how.flags = flags;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

constexpr std::uint64_t kOpenFlags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;  // NONBLOCK: a FIFO must not hang the loop

// Strips leading slashes and refuses "..": returns the relative path or an error.
Result<std::string> Relativize(std::string_view name) {
  while (!name.empty() && name.front() == '/') name.remove_prefix(1);
  if (name.empty()) return Status(ErrorCode::kNotFound, "empty file name");
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t slash = std::min(name.find('/', start), name.size());
    if (name.substr(start, slash - start) == "..")
      return Status(ErrorCode::kPermissionDenied, "'..' in file name");
    start = slash + 1;
  }
  return std::string(name);
}

Status ErrnoStatus(int err, std::string_view what) {
  const std::string msg = std::string(what) + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
      return {ErrorCode::kNotFound, msg};
    default:
      return {ErrorCode::kPermissionDenied, msg};
  }
}

Result<OpenedFile> Finish(UniqueFd fd) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "fstat");
  if (!S_ISREG(st.st_mode)) return Status(ErrorCode::kPermissionDenied, "not a regular file");
  OpenedFile out;
  out.fd = std::move(fd);
  out.size = static_cast<std::uint64_t>(st.st_size);
  return out;
}

}  // namespace

Result<TftpRoot> TftpRoot::Open(const std::string& dir) {
  char resolved[PATH_MAX];
  if (::realpath(dir.c_str(), resolved) == nullptr) return ErrnoStatus(errno, "TFTP root " + dir);
  TftpRoot root;
  root.real_path_ = resolved;
  root.dir_fd_.Reset(::open(resolved, O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.dir_fd_.valid()) return ErrnoStatus(errno, "TFTP root " + dir);
  const int probe = OpenAt2(root.dir_fd_.get(), ".", O_PATH | O_CLOEXEC, RESOLVE_BENEATH);
  if (probe >= 0) {
    ::close(probe);
    root.have_openat2_ = true;
  }
  return root;
}

Result<OpenedFile> TftpRoot::OpenForRead(std::string_view filename) const {
  auto relative = Relativize(filename);
  if (!relative.ok()) return relative.status();
  if (!have_openat2_) return OpenFallback(*relative);
  // RESOLVE_BENEATH fails with EXDEV on any step (.., absolute symlink,
  // symlink with ..) that would leave the root; NO_MAGICLINKS shuts /proc tricks.
  UniqueFd fd(OpenAt2(dir_fd_.get(), relative->c_str(), kOpenFlags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS));
  if (!fd.valid()) return ErrnoStatus(errno, "open");
  return Finish(std::move(fd));
}

Result<OpenedFile> TftpRoot::OpenFallback(const std::string& relative) const {
  const std::string joined = real_path_ + "/" + relative;
  char resolved[PATH_MAX];
  if (::realpath(joined.c_str(), resolved) == nullptr) return ErrnoStatus(errno, "realpath");
  const std::string_view r(resolved);
  const std::string prefix = real_path_ == "/" ? "/" : real_path_ + "/";
  if (r.substr(0, prefix.size()) != prefix) return Status(ErrorCode::kPermissionDenied, "path leaves the TFTP root");
  UniqueFd fd(::open(resolved, static_cast<int>(kOpenFlags) | O_NOFOLLOW));
  if (!fd.valid()) return ErrnoStatus(errno, "open");
  return Finish(std::move(fd));
}

}  // namespace metalpxe::tftp
