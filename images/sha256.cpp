#include "images/sha256.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <openssl/evp.h>

#include "core/unique_fd.h"
#include "core/hex.h"

namespace metalpxe {

void Sha256::Free::operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  // Only fails on allocation failure; nothing sensible to return from a constructor.
  if (!ctx_) throw std::bad_alloc();
  Reset();
}

Sha256::~Sha256() = default;

void Sha256::Reset() { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }

void Sha256::Update(std::span<const std::byte> data) { EVP_DigestUpdate(ctx_.get(), data.data(), data.size()); }

std::string Sha256::FinalHex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), md, &len);
  std::string out = HexLower({md, len});
  Reset();
  return out;
}

Status HashFdPrefix(int fd, std::uint64_t length, Sha256& hasher) {
  std::vector<std::byte> buf(1 << 20);
  std::uint64_t off = 0;
  while (off < length) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), length - off));
    const ssize_t n = pread(fd, buf.data(), want, static_cast<off_t>(off));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status(ErrorCode::kUnavailable, std::string("read failed: ") + std::strerror(errno));
    }
    if (n == 0) return Status(ErrorCode::kDataLoss, "file shorter than expected");
    hasher.Update(std::span(buf.data(), static_cast<std::size_t>(n)));
    off += static_cast<std::uint64_t>(n);
  }
  return Status::Ok();
}

Result<std::string> Sha256File(const std::string& path) {
  UniqueFd file(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file.valid()) return Status(ErrorCode::kNotFound, "cannot open " + path + ": " + std::strerror(errno));
  Sha256 hasher;
  std::vector<std::byte> buf(1 << 20);
  Status st;
  while (true) {
    const ssize_t n = read(file.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st = Status(ErrorCode::kUnavailable, "cannot read " + path + ": " + std::strerror(errno));
      break;
    }
    if (n == 0) break;
    hasher.Update(std::span(buf.data(), static_cast<std::size_t>(n)));
  }
  if (!st.ok()) return st;
  return hasher.FinalHex();
}

std::string LowerHex(std::string hex) {
  for (auto& c : hex) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return hex;
}

}  // namespace metalpxe
