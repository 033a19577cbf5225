#pragma once
// Downloads one asset into its place in the cache, or leaves nothing there.
//
// The bytes go to "<final>.partial"; a partial left by an earlier run (the
// daemon was stopped or crashed mid-download) is continued with a Range
// request, and a connection that drops mid-transfer is resumed the same way,
// up to `max_attempts`. Once the server has sent everything, the SHA-256 of
// the whole file must equal the expected digest; then the file is fsynced and
// atomically renamed to <final> (and the directory fsynced), so <final> only
// ever exists complete and verified. Any failure deletes the partial.
#include <atomic>
#include <string>

#include "core/result.h"
#include "images/http_fetch.h"

namespace metalpxe {

struct DownloadOptions {
  FetchLimits limits;
  int max_attempts = 3;
};

// An empty expected_sha256 accepts whatever arrives (trust on first use: the
// caller pins the digest it gets back in *actual_sha256).
Status DownloadVerified(const std::string& url, const std::string& final_path, const std::string& expected_sha256,
                        const DownloadOptions& options, const ByteProgress& progress,
                        const std::atomic<bool>* cancel, std::string* actual_sha256 = nullptr);

}  // namespace metalpxe
