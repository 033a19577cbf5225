#include "images/verified_download.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "images/sha256.h"
#include "core/unique_fd.h"

namespace metalpxe {
namespace {

using metalpxe::UniqueFd;

Status Errno(const std::string& what) {
  const int err = errno;
  return Status(err == ENOSPC ? ErrorCode::kResourceExhausted
                : (err == EACCES || err == EPERM || err == EROFS) ? ErrorCode::kPermissionDenied
                                                                  : ErrorCode::kUnavailable,
                what + ": " + std::strerror(err));
}

// Makes the rename itself durable: without it a power cut can undo it.
Status FsyncDir(const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Errno("cannot open " + dir);
  if (fsync(fd.get()) != 0) return Errno("cannot fsync " + dir);
  return Status::Ok();
}

}  // namespace

Status DownloadVerified(const std::string& url, const std::string& final_path, const std::string& expected_sha256,
                        const DownloadOptions& options, const ByteProgress& progress,
                        const std::atomic<bool>* cancel, std::string* actual_sha256) {
  const std::string expected = LowerHex(expected_sha256);
  const std::string partial = final_path + ".partial";
  const std::string dir = std::filesystem::path(final_path).parent_path().string();

  UniqueFd fd(open(partial.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return Errno("cannot create " + partial);
  // From here on, every failure must leave no partial behind.
  auto fail = [&](const Status& st) {
    fd.Reset();
    unlink(partial.c_str());
    return st;
  };

  struct stat sb {};
  if (fstat(fd.get(), &sb) != 0) return fail(Errno("cannot stat " + partial));
  std::uint64_t have = static_cast<std::uint64_t>(sb.st_size);
  Sha256 hasher;
  if (have > 0) {
    // Resuming: the digest covers the whole file, so hash what is already here.
    if (auto st = HashFdPrefix(fd.get(), have, hasher); !st.ok()) return fail(st);
    spdlog::info("images: resuming {} at byte {}", url, have);
  }

  FetchOutcome outcome;
  bool restarted_after_416 = false;
  for (int attempt = 1; attempt <= options.max_attempts; ++attempt) {
    FetchRequest req{url, fd.get(), have, &hasher, options.limits, progress, cancel};
    outcome = FetchOnce(req);
    have = outcome.file_size;
    if (outcome.status.ok()) break;
    if (outcome.range_not_satisfiable && !restarted_after_416) {
      // The partial already holds the whole asset (we died between the last
      // byte and the rename), or is longer than the asset: check, else restart.
      Sha256 copy;
      if (auto st = HashFdPrefix(fd.get(), have, copy); st.ok() && copy.FinalHex() == expected) {
        outcome.status = Status::Ok();
        break;
      }
      restarted_after_416 = true;
      if (ftruncate(fd.get(), 0) != 0) return fail(Errno("cannot truncate " + partial));
      hasher.Reset();
      have = 0;
      --attempt;  // not the server's fault
      continue;
    }
    if (!outcome.transient || (cancel && cancel->load())) break;
    if (attempt < options.max_attempts) {
      spdlog::warn("images: {} (attempt {} of {}); resuming at byte {}", outcome.status.message(), attempt,
                   options.max_attempts, have);
    }
  }
  if (!outcome.status.ok()) {
    if (outcome.transient && options.max_attempts > 1) {
      return fail(Status(outcome.status.code(), outcome.status.message() + " (gave up after " +
                                                    std::to_string(options.max_attempts) + " attempts)"));
    }
    return fail(outcome.status);
  }

  const std::string got = hasher.FinalHex();
  if (actual_sha256) *actual_sha256 = got;
  if (!expected.empty() && got != expected) {
    return fail(Status(ErrorCode::kDataLoss, "sha256 mismatch for " + url + ": expected " + expected + ", got " +
                                                 got + " (" + std::to_string(have) + " bytes); file discarded"));
  }
  if (fsync(fd.get()) != 0) return fail(Errno("cannot fsync " + partial));
  fd.Reset();
  if (rename(partial.c_str(), final_path.c_str()) != 0) return fail(Errno("cannot rename " + partial));
  if (auto st = FsyncDir(dir); !st.ok()) return st;
  spdlog::info("images: {} verified (sha256 {}, {} bytes) -> {}", url, got, have, final_path);
  return Status::Ok();
}

}  // namespace metalpxe
