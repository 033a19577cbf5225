#include "core/redaction.h"

namespace metalpxe {

std::string RedactConfigTokens(std::string_view text) {
  static constexpr std::string_view kMarker = "/config/";
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (true) {
    const std::size_t at = text.find(kMarker, pos);
    if (at == std::string_view::npos) break;
    std::size_t end = at + kMarker.size();
    while (end < text.size()) {
      const char c = text[end];
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) break;
      ++end;
    }
    out.append(text.substr(pos, at + kMarker.size() - pos));
    if (end > at + kMarker.size()) out.append("<redacted>");
    pos = end;
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace metalpxe
