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

int TokenKeyHexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

Secret EncodeTokenKey(const TokenKey& key) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text(key.size() * 2, '0');
  for (std::size_t i = 0; i < key.size(); ++i) {
    text[2 * i] = kDigits[key[i] >> 4];
    text[2 * i + 1] = kDigits[key[i] & 0xf];
  }
  Secret out(text);
  OPENSSL_cleanse(text.data(), text.size());
  return out;
}

std::optional<TokenKey> DecodeTokenKey(std::string_view text) {
  TokenKey key{};
  if (text.size() != key.size() * 2) return std::nullopt;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const int hi = TokenKeyHexDigit(text[2 * i]), lo = TokenKeyHexDigit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    key[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return key;
}

Result<TokenKey> LoadOrCreateSharedTokenKey(SharedValues& shared, const std::string& state_dir) {
  TokenKey candidate{};
  const std::string path = (std::filesystem::path(state_dir) / kTokenKeyFileName).string();
  if (::access(path.c_str(), F_OK) == 0) {
    auto own = ReadKey(path);
    if (!own.ok()) return own.status();
    candidate = *own;
  } else if (RAND_bytes(candidate.data(), static_cast<int>(candidate.size())) != 1) {
    return Status{ErrorCode::kInternal, "OpenSSL RAND_bytes failed; cannot make a config token key"};
  }
  const Secret offered = EncodeTokenKey(candidate);
  OPENSSL_cleanse(candidate.data(), candidate.size());
  auto stored = shared.CreateOnce(kSharedTokenKeyName, offered);
  if (!stored.ok())
    return Status{stored.status().code(), "shared config token key: " + stored.status().message()};
  auto key = DecodeTokenKey(stored->Reveal());
  if (!key)
    return Status{ErrorCode::kDataLoss, std::string("the shared config token key (store value ") + kSharedTokenKeyName +
                                            ") is not 64 hex digits; delete it to make a new one (outstanding "
                                            "tokens stop working)"};
  return *key;
}

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
