#include "http/log_redaction.h"

namespace metalpxe::http {
namespace {
constexpr std::string_view kConfigPrefix = "/config/";
constexpr std::size_t kMaxLoggedPath = 256;

bool EndsToken(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\''; }
}  // namespace

std::string PathForLog(std::string_view path) {
  if (path.substr(0, kConfigPrefix.size()) == kConfigPrefix) return "/config/<redacted>";
  std::string out;
  const std::size_t n = path.size() < kMaxLoggedPath ? path.size() : kMaxLoggedPath;
  out.reserve(n + 3);
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(path[i]);
    out.push_back(c < 0x20 || c >= 0x7f ? '?' : char(c));
  }
  if (path.size() > n) out += "...";
  return out;
}

std::string RedactFreeText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.substr(i, kConfigPrefix.size()) == kConfigPrefix) {
      out += "/config/<redacted>";
      i += kConfigPrefix.size();
      while (i < text.size() && !EndsToken(text[i])) ++i;
    } else if (text[i] == '?') {
      out += "?<redacted>";
      ++i;
      while (i < text.size() && !EndsToken(text[i])) ++i;
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

}  // namespace metalpxe::http
