// libFuzzer target for the Content-Range parser (images/content_range.h):
// server-controlled text must never crash it, and what it accepts must be
// self-consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "images/content_range.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto r = metalpxe::ParseContentRange(text)) {
    if (r->first > r->last) std::abort();
    if (r->total && r->last >= *r->total) std::abort();
  }
  return 0;
}
