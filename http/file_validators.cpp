#include "http/file_validators.h"

#include <cinttypes>
#include <cstdio>

#include "http/header_tokens.h"
#include "http/http_date.h"

namespace metalpxe::http {
namespace {

std::string_view StripWeak(std::string_view tag) {
  if (tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/') tag.remove_prefix(2);
  return tag;
}

}  // namespace

std::string MakeETag(std::uint64_t size, std::int64_t mtime_ns) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "\"%" PRIx64 "-%" PRIx64 "\"", size, static_cast<std::uint64_t>(mtime_ns));
  return buf;
}

bool IfNoneMatchMatches(std::string_view header_value, std::string_view etag) {
  std::string_view rest = TrimOws(header_value);
  if (rest == "*") return true;
  const auto ours = StripWeak(etag);
  // Entity tags are quoted and may not contain '"', so splitting on ',' is
  // only safe outside quotes: walk tag by tag instead.
  while (!rest.empty()) {
    rest = TrimOws(rest);
    if (!rest.empty() && rest.front() == ',') {
      rest.remove_prefix(1);
      continue;
    }
    std::size_t start = 0;
    if (rest.substr(0, 2) == "W/") start = 2;
    if (rest.size() <= start || rest[start] != '"') return false;  // malformed: no match
    const auto close = rest.find('"', start + 1);
    if (close == std::string_view::npos) return false;
    if (rest.substr(start, close - start + 1) == ours) return true;
    rest.remove_prefix(close + 1);
  }
  return false;
}

bool NotModifiedSince(std::string_view header_value, std::int64_t mtime_seconds) {
  const auto date = ParseHttpDate(TrimOws(header_value));
  return date && mtime_seconds <= *date;
}

bool IfRangeAllowsRange(std::string_view header_value, std::string_view etag, std::int64_t mtime_seconds) {
  const auto v = TrimOws(header_value);
  if (v.empty()) return false;
  if (v.front() == '"') return v == etag;           // strong comparison
  if (v.substr(0, 2) == "W/") return false;        // weak tags never match in If-Range
  const auto date = ParseHttpDate(v);
  return date && *date == mtime_seconds;
}

}  // namespace metalpxe::http
