#include "http/asset_path.h"

#include <array>
#include <utility>

namespace metalpxe::http {

std::optional<std::string> SanitizeRelativePath(std::string_view rel) {
  std::string out;
  out.reserve(rel.size());
  while (!rel.empty()) {
    const auto slash = rel.find('/');
    const auto segment = rel.substr(0, slash);
    rel = slash == std::string_view::npos ? std::string_view{} : rel.substr(slash + 1);
    if (segment.empty()) continue;                       // "a//b", leading '/'
    if (segment == "." || segment == "..") return std::nullopt;
    for (char c : segment)
      if (c == '\0' || c == '\\') return std::nullopt;
    if (!out.empty()) out.push_back('/');
    out.append(segment);
  }
  return out;
}

bool IsWithinRoot(std::string_view real_root, std::string_view real_path) {
  if (real_root.empty() || real_path.substr(0, real_root.size()) != real_root) return false;
  if (real_path.size() == real_root.size()) return true;
  if (real_root.back() == '/') return true;  // root is "/"
  return real_path[real_root.size()] == '/';
}

std::string_view ContentTypeForPath(std::string_view path) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kTypes = {{
      {".ipxe", "text/plain"},
      {".txt", "text/plain"},
      {".cfg", "text/plain"},
      {".yaml", "application/yaml"},
      {".yml", "application/yaml"},
      {".json", "application/json"},
      {".html", "text/html; charset=utf-8"},
      {".sha256", "text/plain"},
      {".sha512", "text/plain"},
  }};
  const auto slash = path.rfind('/');
  const auto name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const auto dot = name.rfind('.');
  if (dot != std::string_view::npos) {
    const auto ext = name.substr(dot);
    for (const auto& [e, type] : kTypes) {
      if (ext.size() != e.size()) continue;
      bool same = true;
      for (std::size_t i = 0; i < e.size() && same; ++i) {
        char c = ext[i];
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
        same = c == e[i];
      }
      if (same) return type;
    }
  }
  return "application/octet-stream";  // .efi, .kpxe, .pxe, kernels, initramfs
}

}  // namespace metalpxe::http
