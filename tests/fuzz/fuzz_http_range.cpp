// libFuzzer target for the HTTP request-header codecs: Range evaluation
// against several file sizes (checking the result stays inside the file),
// HTTP dates, If-None-Match / If-Range and path sanitising.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/asset_path.h"
#include "http/file_validators.h"
#include "http/http_date.h"
#include "http/range_header.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace metalpxe::http;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (std::uint64_t file_size : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{1000}, std::uint64_t{5} << 30,
                                  ~std::uint64_t{0}}) {
    const RangeDecision d = EvaluateRange(text, file_size);
    if (d.outcome == RangeOutcome::kPartial) {
      // A partial answer must be non-empty and lie inside the file.
      if (d.length == 0 || d.first >= file_size || d.length > file_size - d.first) std::abort();
    }
  }
  if (auto t = ParseHttpDate(text)) {
    if (ParseHttpDate(FormatHttpDate(*t)) != t) std::abort();  // round-trips
  }
  const auto etag = MakeETag(1000, 42);
  (void)IfNoneMatchMatches(text, etag);
  (void)IfRangeAllowsRange(text, etag, 42);
  if (auto p = SanitizeRelativePath(text)) {
    if (p->find("..") != std::string::npos && (p->find("/../") != std::string::npos || *p == ".." ||
                                                p->rfind("../", 0) == 0 || p->ends_with("/..")))
      std::abort();  // never lets a ".." segment through
  }
  return 0;
}
