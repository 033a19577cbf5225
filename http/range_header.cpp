#include "http/range_header.h"

#include "http/header_tokens.h"

#include <limits>
#include <optional>

namespace metalpxe::http {
namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = char(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// 1*DIGIT, saturating at 2^64-1 (a position that large is past any file).
std::optional<std::uint64_t> ParseDigits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const std::uint64_t d = std::uint64_t(c - '0');
    v = (v > (kMax - d) / 10) ? kMax : v * 10 + d;
  }
  return v;
}

// One range-spec: "first-last", "first-" or "-suffix".
struct Spec {
  bool suffix = false;
  std::uint64_t first = 0;
  std::uint64_t last = kMax;  // inclusive; kMax when open-ended
  std::uint64_t suffix_length = 0;
};

std::optional<Spec> ParseSpec(std::string_view s) {
  const auto dash = s.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto left = s.substr(0, dash);
  const auto right = s.substr(dash + 1);
  Spec spec;
  if (left.empty()) {
    auto n = ParseDigits(right);
    if (!n) return std::nullopt;
    spec.suffix = true;
    spec.suffix_length = *n;
    return spec;
  }
  auto first = ParseDigits(left);
  if (!first) return std::nullopt;
  spec.first = *first;
  if (!right.empty()) {
    auto last = ParseDigits(right);
    if (!last || *last < *first) return std::nullopt;  // RFC: last < first is invalid
    spec.last = *last;
  }
  return spec;
}

bool Satisfiable(const Spec& s, std::uint64_t size) {
  if (s.suffix) return s.suffix_length > 0 && size > 0;
  return s.first < size;
}

}  // namespace

RangeDecision EvaluateRange(std::string_view header_value, std::uint64_t file_size) {
  const auto value = TrimOws(header_value);
  const auto eq = value.find('=');
  if (eq == std::string_view::npos) return {};
  if (!EqualsIgnoreCase(TrimOws(value.substr(0, eq)), "bytes")) return {};

  std::string_view rest = value.substr(eq + 1);
  std::size_t specs = 0, satisfiable = 0;
  Spec only;
  while (true) {
    const auto comma = rest.find(',');
    const auto element = TrimOws(rest.substr(0, comma));
    if (!element.empty()) {  // the list rule tolerates empty elements
      auto spec = ParseSpec(element);
      if (!spec) return {};
      ++specs;
      if (Satisfiable(*spec, file_size)) {
        ++satisfiable;
        only = *spec;
      }
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (specs == 0) return {};
  if (satisfiable == 0) return {RangeOutcome::kUnsatisfiable, 0, 0};
  if (specs > 1) return {};  // multi-range: full 200 (see header comment)

  RangeDecision d{RangeOutcome::kPartial, 0, 0};
  if (only.suffix) {
    const std::uint64_t n = only.suffix_length < file_size ? only.suffix_length : file_size;
    d.first = file_size - n;
    d.length = n;
  } else {
    const std::uint64_t last = only.last < file_size - 1 ? only.last : file_size - 1;
    d.first = only.first;
    d.length = last - only.first + 1;
  }
  return d;
}

}  // namespace metalpxe::http
