#include "ui/ui_password.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/hex.h"

namespace metalpxe::ui {
namespace {

constexpr std::size_t kSaltBytes = 16, kHashBytes = 32;
constexpr std::string_view kScheme = "pbkdf2-sha256";

std::string UiHex(const unsigned char* p, std::size_t n) { return HexLower({p, n}); }

bool UiUnhex(std::string_view s, std::vector<unsigned char>& out) {
  if (s.size() % 2 != 0) return false;
  auto v = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out.clear();
  for (std::size_t i = 0; i < s.size(); i += 2) {
    const int hi = v(s[i]), lo = v(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<unsigned char>(hi * 16 + lo));
  }
  return true;
}

bool Derive(std::string_view password, const std::vector<unsigned char>& salt, std::uint32_t iterations,
            unsigned char* out, std::size_t out_len) {
  return PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                           static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                           static_cast<int>(out_len), out) == 1;
}

std::string PasswordPath(const std::string& state_dir) {
  return (std::filesystem::path(state_dir) / kUiPasswordFile).string();
}

}  // namespace

Result<std::string> HashUiPassword(std::string_view password, std::uint32_t iterations) {
  if (iterations == 0 || iterations > 100'000'000) return Status(ErrorCode::kInvalidArgument, "bad iteration count");
  std::vector<unsigned char> salt(kSaltBytes);
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1)
    return Status(ErrorCode::kInternal, "no random bytes for a salt");
  unsigned char hash[kHashBytes];
  if (!Derive(password, salt, iterations, hash, sizeof hash)) return Status(ErrorCode::kInternal, "PBKDF2 failed");
  return std::string(kScheme) + "$" + std::to_string(iterations) + "$" + UiHex(salt.data(), salt.size()) + "$" +
         UiHex(hash, sizeof hash);
}

bool VerifyUiPassword(std::string_view password, std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  std::string_view parts[4];
  for (int i = 0; i < 4; ++i) {
    const auto at = line.find('$');
    if ((at == std::string_view::npos) != (i == 3)) return false;
    parts[i] = line.substr(0, at);
    line = at == std::string_view::npos ? std::string_view() : line.substr(at + 1);
  }
  if (parts[0] != kScheme) return false;
  std::uint32_t iterations = 0;
  auto [end, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), iterations);
  if (ec != std::errc() || end != parts[1].data() + parts[1].size() || iterations == 0 || iterations > 100'000'000)
    return false;
  std::vector<unsigned char> salt, expected;
  if (!UiUnhex(parts[2], salt) || !UiUnhex(parts[3], expected) || salt.empty() || expected.size() != kHashBytes)
    return false;
  unsigned char got[kHashBytes];
  if (!Derive(password, salt, iterations, got, sizeof got)) return false;
  return CRYPTO_memcmp(got, expected.data(), kHashBytes) == 0;
}

Status WriteUiPasswordFile(const std::string& state_dir, std::string_view password) {
  if (password.size() < kMinUiPasswordLength)
    return Status(ErrorCode::kInvalidArgument,
                  "the password must have at least " + std::to_string(kMinUiPasswordLength) + " characters");
  auto line = HashUiPassword(password);
  if (!line.ok()) return line.status();
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  const std::string path = PasswordPath(state_dir), tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status(ErrorCode::kPermissionDenied, "cannot write " + tmp + ": " + std::strerror(errno));
  const std::string text = *line + "\n";
  const bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status(ErrorCode::kUnavailable, "cannot write " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Result<std::string> ReadUiPasswordFile(const std::string& state_dir) {
  const std::string path = PasswordPath(state_dir);
  std::ifstream in(path);
  if (!in) return Status(ErrorCode::kNotFound, "no status page password (" + path + "); set one with metalpxed --set-ui-password");
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace metalpxe::ui
