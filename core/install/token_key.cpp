#include "core/install/token_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/unique_fd.h"

namespace metalpxe {
namespace {

Status Errno(const std::string& what, const std::string& path) {
  return {ErrorCode::kInternal, what + " " + path + ": " + std::strerror(errno)};
}

Result<TokenKey> ReadKey(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Errno("cannot open config token key", path);
  TokenKey key{};
  std::uint8_t extra = 0;
  const ssize_t n = ::read(fd.get(), key.data(), key.size());
  if (n != static_cast<ssize_t>(key.size()) || ::read(fd.get(), &extra, 1) != 0)
    return Status{ErrorCode::kDataLoss, "config token key " + path + " is not " + std::to_string(key.size()) +
                                            " bytes; remove it to make a new one (outstanding tokens stop working)"};
  return key;
}

}  // namespace

Result<TokenKey> LoadOrCreateTokenKey(const std::string& state_dir) {
  const std::string path = (std::filesystem::path(state_dir) / kTokenKeyFileName).string();
  if (::access(path.c_str(), F_OK) == 0) return ReadKey(path);
  if (errno != ENOENT) return Errno("cannot read config token key", path);

  TokenKey key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1)
    return Status{ErrorCode::kInternal, "OpenSSL RAND_bytes failed; cannot make a config token key"};
  // Written under a temporary name, synced, then linked into place: link()
  // fails when another process got there first, and then its key wins.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid()) return Errno("cannot create config token key", tmp);
    const bool ok = ::write(fd.get(), key.data(), key.size()) == static_cast<ssize_t>(key.size()) &&
                    ::fsync(fd.get()) == 0;
    if (!ok) {
      const Status st = Errno("cannot write config token key", tmp);
      ::unlink(tmp.c_str());
      return st;
    }
  }
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int link_errno = errno;
  ::unlink(tmp.c_str());
  OPENSSL_cleanse(key.data(), key.size());
  if (linked != 0 && link_errno != EEXIST) {
    errno = link_errno;
    return Errno("cannot place config token key", path);
  }
  return ReadKey(path);
}

}  // namespace metalpxe
