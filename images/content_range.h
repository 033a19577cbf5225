#pragma once
// Parses an HTTP Content-Range header value (RFC 9110 14.4) as a server
// sends it with 206: "bytes START-END/TOTAL" or "bytes START-END/*". Pure,
// bounds-checked; anything else (including the unsatisfied form
// "bytes */TOTAL") is nullopt.
#include <cstdint>
#include <optional>
#include <string_view>

namespace metalpxe {

struct ContentRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;              // inclusive
  std::optional<std::uint64_t> total;  // absent for "/*"
};

std::optional<ContentRange> ParseContentRange(std::string_view value);

}  // namespace metalpxe
