#include "core/install/yaml_writer.h"

#include <cstdint>
#include <string_view>

namespace metalpxe {
namespace {

// YAML limits implicit keys to 1024 characters; longer ones use `? key`.
constexpr std::size_t kMaxImplicitKey = 1000;

// Length of the UTF-8 sequence at s[i], or 0 when it is not valid UTF-8 or is
// a code point YAML treats specially (NEL, LS, PS line breaks; BOM).
std::size_t Utf8Length(std::string_view s, std::size_t i, std::uint32_t* cp_out) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if (b0 < 0x80) {
    len = 1;
    cp = b0;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  // Overlong forms, surrogates and out-of-range values are not valid UTF-8.
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  *cp_out = cp;
  return len;
}

bool IsSpecialCodePoint(std::uint32_t cp) { return cp == 0x85 || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF; }

// True when every character can stand in a plain or literal scalar as is:
// printable, valid UTF-8, no YAML line-break code points. Tab and newline are
// allowed only when the caller says so.
bool AllPrintable(std::string_view s, bool allow_tab, bool allow_newline) {
  for (std::size_t i = 0; i < s.size();) {
    std::uint32_t cp = 0;
    const std::size_t len = Utf8Length(s, i, &cp);
    if (len == 0 || IsSpecialCodePoint(cp)) return false;
    if (cp < 0x20 || cp == 0x7F) {
      if (!((cp == '\t' && allow_tab) || (cp == '\n' && allow_newline))) return false;
    }
    i += len;
  }
  return true;
}

bool PlainSafe(std::string_view s, bool must_read_as_string) {
  if (s.empty() || !AllPrintable(s, false, false)) return false;
  if (s.front() == ' ' || s.back() == ' ') return false;
  const char c = s.front();
  static constexpr std::string_view kIndicators = "-?:,[]{}#&*!|>'\"%@`";
  if (kIndicators.find(c) != std::string_view::npos) {
    // `-x`, `?x`, `:x` are plain in YAML 1.2; a lone indicator or `- ` is not.
    if (!(c == '-' || c == '?' || c == ':') || s.size() < 2 || s[1] == ' ') return false;
  }
  if (s.starts_with("---") || s.starts_with("...")) return false;
  if (s.find(": ") != std::string_view::npos || s.find(" #") != std::string_view::npos || s.back() == ':') {
    return false;
  }
  if (must_read_as_string && ResolvePlainScalar(s) != YamlScalarType::kString) return false;
  return true;
}

std::string DoubleQuoted(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    std::uint32_t cp = 0;
    const std::size_t len = Utf8Length(s, i, &cp);
    if (len == 0) {
      // Not UTF-8: YAML text cannot carry the raw byte; write its value.
      const auto b = static_cast<unsigned char>(s[i]);
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
      ++i;
      continue;
    }
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      // \u rather than \N, \L, \P: yaml-cpp 0.7 decodes \N to a raw byte.
      case 0x85: out += "\\u0085"; break;
      case 0x2028: out += "\\u2028"; break;
      case 0x2029: out += "\\u2029"; break;
      case 0xFEFF: out += "\\uFEFF"; break;
      default:
        if (cp < 0x20 || cp == 0x7F) {
          out += "\\x";
          out += kHex[cp >> 4];
          out += kHex[cp & 0xF];
        } else {
          out.append(s.substr(i, len));
        }
    }
    i += len;
  }
  out += '"';
  return out;
}

// The header (`|`, `|-`, `|+`) and body of a literal block at `indent`, or
// empty when the text should not be written as one.
bool LiteralHeaderFor(std::string_view s, std::string* header) {
  if (s.find('\n') == std::string_view::npos || !AllPrintable(s, true, true)) return false;
  // Auto-detected indentation would swallow a leading space of the first line.
  const std::size_t first = s.find_first_not_of('\n');
  if (first == std::string_view::npos || s[first] == ' ' || s[first] == '\t') return false;
  std::size_t trailing = 0;
  while (trailing < s.size() && s[s.size() - 1 - trailing] == '\n') ++trailing;
  *header = trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+";
  return true;
}

void AppendLiteralBody(std::string& out, std::string_view s, int indent) {
  // Lines of the text; a trailing newline does not open another line.
  std::size_t start = 0;
  while (start < s.size()) {
    std::size_t end = s.find('\n', start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.append(static_cast<std::size_t>(indent), ' ').append(s.substr(start, end - start));
    out += '\n';
    start = end + 1;
  }
}

// Literal blocks have corner cases (blank-line runs, keep chomping); use one
// only when yaml-cpp reads this exact form back to the same text.
bool LiteralReadsBack(std::string_view s, const std::string& header) {
  std::string doc = "k: " + header + "\n";
  AppendLiteralBody(doc, s, 2);
  try {
    YAML::Node back = YAML::Load(doc);
    return back.IsMap() && back["k"].IsScalar() && back["k"].Scalar() == s;
  } catch (const YAML::Exception&) {
    return false;
  }
}

bool SafeTagChars(std::string_view tag) {
  if (tag.empty()) return false;
  for (char c : tag) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("-_.:/!~*'()#;?@&=+$,%").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

std::string TagPrefix(const YamlValue& v) {
  const std::string& tag = v.tag();
  if (tag.empty() || !SafeTagChars(tag)) return "";
  static constexpr std::string_view kCore = "tag:yaml.org,2002:";
  // A tag that could not be written back as read (e.g. yaml-cpp turns a lone
  // `!!` into the bare core prefix) is dropped: the scalar stays a string.
  if (tag.starts_with(kCore)) {
    const std::string suffix = tag.substr(kCore.size());
    if (suffix.empty() || suffix.find_first_of("!,") != std::string::npos) return "";
    return "!!" + suffix + " ";
  }
  if (tag.front() == '!') {
    if (tag.size() == 1 || tag.find_first_of("!<>,", 1) != std::string::npos) return "";
    return tag + " ";
  }
  return "!<" + tag + "> ";
}

std::string InlineScalar(const YamlValue& v) {
  if (v.is_null()) return "null";
  const std::string prefix = TagPrefix(v);
  const bool must_read_as_string = !v.plain();
  if (PlainSafe(v.text(), must_read_as_string)) return prefix + v.text();
  return prefix + DoubleQuoted(v.text());
}

std::string KeyText(const std::string& key) { return PlainSafe(key, true) ? key : DoubleQuoted(key); }

class Writer {
 public:
  std::string out;

  // Writes what follows `key:`, `- ` or `:` for `v` whose parent sits at `indent`.
  void WriteValueAfterIndicator(const YamlValue& v, int indent) {
    switch (v.kind()) {
      case YamlValue::Kind::kNull:
        out += " null\n";
        return;
      case YamlValue::Kind::kScalar: {
        std::string header;
        if (LiteralHeaderFor(v.text(), &header) && LiteralReadsBack(v.text(), header)) {
          out += " " + TagPrefix(v) + header + "\n";
          AppendLiteralBody(out, v.text(), indent + 2);
        } else {
          out += " " + InlineScalar(v) + "\n";
        }
        return;
      }
      case YamlValue::Kind::kMap:
        if (v.entries().empty()) {
          out += " {}\n";
        } else {
          out += "\n";
          WriteMap(v, indent + 2, false);
        }
        return;
      case YamlValue::Kind::kSeq:
        if (v.items().empty()) {
          out += " []\n";
        } else {
          out += "\n";
          WriteSeq(v, indent + 2);
        }
        return;
    }
  }

  // `first_inline`: the first entry continues a `- ` already written.
  void WriteMap(const YamlValue& map, int indent, bool first_inline) {
    bool first = true;
    for (const auto& [key, value] : map.entries()) {
      if (!(first && first_inline)) out.append(static_cast<std::size_t>(indent), ' ');
      first = false;
      if (key.size() > kMaxImplicitKey) {
        out += "? " + DoubleQuoted(key) + "\n";
        out.append(static_cast<std::size_t>(indent), ' ');
        out += ":";
      } else {
        out += KeyText(key) + ":";
      }
      WriteValueAfterIndicator(value, indent);
    }
  }

  void WriteSeq(const YamlValue& seq, int indent) {
    for (const auto& item : seq.items()) {
      out.append(static_cast<std::size_t>(indent), ' ');
      if (item.is_map() && !item.entries().empty()) {
        out += "- ";
        WriteMap(item, indent + 2, true);
      } else {
        out += "-";
        WriteValueAfterIndicator(item, indent);
      }
    }
  }

  void WriteDocument(const YamlValue& doc) {
    if (doc.is_map() && !doc.entries().empty()) {
      WriteMap(doc, 0, false);
    } else if (doc.is_seq() && !doc.items().empty()) {
      WriteSeq(doc, 0);
    } else if (doc.is_map()) {
      out += "{}\n";
    } else if (doc.is_seq()) {
      out += "[]\n";
    } else {
      // A top-level scalar: write it as the value of nothing.
      std::string header;
      if (doc.is_scalar() && LiteralHeaderFor(doc.text(), &header) && LiteralReadsBack(doc.text(), header)) {
        out += TagPrefix(doc) + header + "\n";
        AppendLiteralBody(out, doc.text(), 2);
      } else {
        out += InlineScalar(doc) + "\n";
      }
    }
  }
};

}  // namespace

std::string WriteYaml(const YamlValue& document) {
  Writer w;
  w.WriteDocument(document);
  return std::move(w.out);
}

std::string WriteYamlDocuments(const std::vector<YamlValue>& documents) {
  Writer w;
  for (std::size_t i = 0; i < documents.size(); ++i) {
    if (i > 0) w.out += "---\n";
    w.WriteDocument(documents[i]);
  }
  return std::move(w.out);
}

}  // namespace metalpxe
