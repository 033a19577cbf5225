#include "core/install/json_pointer.h"

namespace metalpxe {

Result<JsonPointer> ParseJsonPointer(std::string_view text) {
  JsonPointer out;
  if (text.empty()) return out;
  if (text.front() != '/') {
    return Status(ErrorCode::kInvalidArgument,
                  "JSON pointer '" + std::string(text) + "' must be empty or start with '/'");
  }
  std::string token;
  for (std::size_t i = 1; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '/') {
      out.push_back(std::move(token));
      token.clear();
      continue;
    }
    if (text[i] != '~') {
      token += text[i];
      continue;
    }
    // RFC 6901 section 3: '~' only as "~0" or "~1"; "~01" is "~1", never "/".
    if (i + 1 >= text.size() || (text[i + 1] != '0' && text[i + 1] != '1')) {
      return Status(ErrorCode::kInvalidArgument,
                    "JSON pointer '" + std::string(text) + "': '~' must be followed by 0 or 1");
    }
    token += text[i + 1] == '0' ? '~' : '/';
    ++i;
  }
  return out;
}

std::string FormatJsonPointer(const JsonPointer& pointer) {
  std::string out;
  for (const auto& token : pointer) {
    out += '/';
    for (char c : token) {
      if (c == '~') {
        out += "~0";
      } else if (c == '/') {
        out += "~1";
      } else {
        out += c;
      }
    }
  }
  return out;
}

std::optional<std::size_t> ArrayIndex(std::string_view token, std::size_t size, bool allow_end) {
  if (token == "-") return allow_end ? std::optional<std::size_t>(size) : std::nullopt;
  if (token.empty() || (token.size() > 1 && token.front() == '0')) return std::nullopt;
  std::size_t index = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
    const std::size_t digit = static_cast<std::size_t>(c - '0');
    if (index > (static_cast<std::size_t>(-1) - digit) / 10) return std::nullopt;
    index = index * 10 + digit;
  }
  if (index > size || (index == size && !allow_end)) return std::nullopt;
  return index;
}

const YamlValue* ResolveJsonPointer(const YamlValue& root, const JsonPointer& pointer) {
  const YamlValue* node = &root;
  for (const auto& token : pointer) {
    if (node->is_map()) {
      node = node->Find(token);
    } else if (node->is_seq()) {
      const auto index = ArrayIndex(token, node->items().size(), false);
      node = index ? &node->items()[*index] : nullptr;
    } else {
      node = nullptr;
    }
    if (node == nullptr) return nullptr;
  }
  return node;
}

YamlValue* ResolveJsonPointer(YamlValue& root, const JsonPointer& pointer) {
  return const_cast<YamlValue*>(ResolveJsonPointer(static_cast<const YamlValue&>(root), pointer));
}

}  // namespace metalpxe
