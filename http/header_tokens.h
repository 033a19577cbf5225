// Small RFC 9110 token helpers shared by the header parsers (Range,
// If-None-Match, If-Modified-Since, …): pure functions, no allocation.
#pragma once

#include <string_view>

namespace metalpxe::http {

// Optional whitespace (OWS) is SP / HTAB.
inline bool IsOws(char c) { return c == ' ' || c == '\t'; }

inline std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && IsOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsOws(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace metalpxe::http
