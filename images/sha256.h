#pragma once
// Streaming SHA-256 over OpenSSL's EVP interface, and a whole-file helper.
#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "core/result.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace metalpxe {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::span<const std::byte> data);
  // Lower-case hex of the digest; the hasher starts over afterwards.
  std::string FinalHex();
  void Reset();

 private:
  struct Free {
    void operator()(EVP_MD_CTX* ctx) const;
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

// A configured or pinned digest in the form Sha256 prints (A-F lowered), so
// users may paste digests in either case.
std::string LowerHex(std::string hex);

// Lower-case hex SHA-256 of the file's contents.
Result<std::string> Sha256File(const std::string& path);

// Hashes the first `length` bytes of an open fd into `hasher` (reads with
// pread, so the fd's offset is untouched).
Status HashFdPrefix(int fd, std::uint64_t length, Sha256& hasher);

}  // namespace metalpxe
