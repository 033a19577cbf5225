#include "images/content_range.h"

#include <charconv>

namespace metalpxe {
namespace {

std::optional<std::uint64_t> ParseDigits(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;  // 19 digits always fit in uint64
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

}  // namespace

std::optional<ContentRange> ParseContentRange(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r' || v.back() == '\n')) v.remove_suffix(1);
  constexpr std::string_view kUnit = "bytes ";
  if (v.size() < kUnit.size()) return std::nullopt;
  for (std::size_t i = 0; i < kUnit.size(); ++i) {
    char c = v[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kUnit[i]) return std::nullopt;
  }
  v.remove_prefix(kUnit.size());
  const auto slash = v.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view range = v.substr(0, slash), total = v.substr(slash + 1);
  const auto dash = range.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto first = ParseDigits(range.substr(0, dash));
  auto last = ParseDigits(range.substr(dash + 1));
  if (!first || !last || *first > *last) return std::nullopt;
  ContentRange out{*first, *last, std::nullopt};
  if (total != "*") {
    out.total = ParseDigits(total);
    if (!out.total || *last >= *out.total) return std::nullopt;
  }
  return out;
}

}  // namespace metalpxe
