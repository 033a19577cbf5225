#include "bench/bootstorm/http_response_head.h"

#include <charconv>
#include <strings.h>

#include <string>

namespace metalpxe::bench {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool Iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool ContainsToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (Iequals(Trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

std::optional<std::uint64_t> Number(std::string_view s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<HttpResponseHead> ParseResponseHead(std::string_view head) {
  auto nl = head.find('\n');
  const std::string_view status_line = Trim(head.substr(0, nl));
  // "HTTP/1.x NNN reason"
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" || status_line[8] != ' ') return std::nullopt;
  HttpResponseHead out;
  const bool http10 = status_line.substr(5, 3) == "1.0";
  auto status = Number(status_line.substr(9, 3));
  if (!status || *status < 100 || *status > 599) return std::nullopt;
  out.status = static_cast<int>(*status);
  bool keep_alive = false;
  while (nl != std::string_view::npos) {
    head.remove_prefix(nl + 1);
    nl = head.find('\n');
    const std::string_view line = Trim(head.substr(0, nl));
    if (line.empty()) continue;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    const std::string_view name = line.substr(0, colon), value = Trim(line.substr(colon + 1));
    if (Iequals(name, "Content-Length")) {
      out.content_length = Number(value);
      if (!out.content_length) return std::nullopt;
    } else if (Iequals(name, "Transfer-Encoding")) {
      out.chunked = ContainsToken(value, "chunked");
    } else if (Iequals(name, "Connection")) {
      out.close = out.close || ContainsToken(value, "close");
      keep_alive = keep_alive || ContainsToken(value, "keep-alive");
    } else if (Iequals(name, "Content-Range")) {
      const auto slash = value.rfind('/');
      if (slash != std::string_view::npos) out.range_total = Number(value.substr(slash + 1));
    }
  }
  if (http10 && !keep_alive) out.close = true;
  return out;
}

}  // namespace metalpxe::bench
