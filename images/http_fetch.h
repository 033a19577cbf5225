#pragma once
// One HTTP GET of an asset into a file, with libcurl: continues a partial
// file with a Range request, feeds every byte it writes to a SHA-256 hasher,
// reports progress, and can be cancelled. Retrying, verifying and renaming
// are verified_download.h's job; this is one attempt and what came of it.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/result.h"
#include "images/sha256.h"

namespace metalpxe {

// bytes_done counts the whole file (resumed bytes included); total is 0 while unknown.
using ByteProgress = std::function<void(std::uint64_t bytes_done, std::uint64_t total)>;

struct FetchLimits {
  std::chrono::seconds connect_timeout{15};
  // Give up on a transfer slower than low_speed_bytes_per_s for low_speed_time.
  long low_speed_bytes_per_s = 1024;
  std::chrono::seconds low_speed_time{60};
  std::uint64_t max_bytes = std::uint64_t{4} << 30;  // refuse anything larger (a boot asset is ~100 MiB)
};

struct FetchRequest {
  std::string url;
  int fd = -1;                // the partial file, opened read-write
  std::uint64_t offset = 0;   // bytes already in the file, and already fed to `hasher`
  Sha256* hasher = nullptr;
  FetchLimits limits;
  ByteProgress progress;      // may be empty
  const std::atomic<bool>* cancel = nullptr;  // may be null
};

struct FetchOutcome {
  Status status;               // ok: the server sent the whole rest of the asset
  long http_status = 0;        // of the last response (after redirects), 0 when none came
  std::uint64_t file_size = 0; // bytes in the file now (0 + body when the server ignored Range)
  std::uint64_t total = 0;     // full asset size when the server said, else 0
  bool transient = false;      // another attempt may succeed (dropped connection, 5xx, timeout)
  bool range_not_satisfiable = false;  // 416: the offset is at or past the end
};

FetchOutcome FetchOnce(const FetchRequest& request);

}  // namespace metalpxe
