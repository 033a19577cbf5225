#include "core/duration.h"

#include <charconv>
#include <cstdint>

namespace metalpxe {

std::optional<std::chrono::seconds> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  const char* p = text.data();
  const char* end = p + text.size();
  bool bare = true;
  while (p < end) {
    std::int64_t n = 0;
    auto [next, ec] = std::from_chars(p, end, n);
    if (ec != std::errc() || n < 0) return std::nullopt;
    p = next;
    std::int64_t unit = 1;
    if (p < end) {
      bare = false;
      switch (*p) {
        case 'h': unit = 3600; break;
        case 'm': unit = 60; break;
        case 's': unit = 1; break;
        case 'd': unit = 86400; break;
        default: return std::nullopt;
      }
      ++p;
    } else if (!bare) {
      return std::nullopt;  // "1h30": a number without a unit after a unit
    }
    if (n > (std::int64_t{1} << 40) / unit) return std::nullopt;
    total += n * unit;
  }
  return std::chrono::seconds(total);
}

}  // namespace metalpxe
