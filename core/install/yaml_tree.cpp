#include "core/install/yaml_tree.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

namespace metalpxe {

YamlValue YamlValue::String(std::string text) {
  YamlValue v;
  v.kind_ = Kind::kScalar;
  v.text_ = std::move(text);
  v.plain_ = false;
  return v;
}

YamlValue YamlValue::Plain(std::string text) {
  YamlValue v;
  v.kind_ = Kind::kScalar;
  v.text_ = std::move(text);
  v.plain_ = true;
  return v;
}

const YamlValue* YamlValue::Find(std::string_view key) const {
  for (const auto& [k, v] : entries_) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string YamlValue::ScalarAt(std::string_view key) const {
  const YamlValue* v = Find(key);
  return v != nullptr && v->is_scalar() ? v->text() : std::string();
}

YamlValue* YamlValue::Find(std::string_view key) {
  for (auto& [k, v] : entries_) {
    if (k == key) return &v;
  }
  return nullptr;
}

YamlValue& YamlValue::Set(std::string key, YamlValue value) {
  if (YamlValue* existing = Find(key)) {
    *existing = std::move(value);
    return *existing;
  }
  entries_.emplace_back(std::move(key), std::move(value));
  return entries_.back().second;
}

YamlValue& YamlValue::MapAt(std::string key) {
  YamlValue* existing = Find(key);
  if (existing != nullptr && !existing->is_null()) return *existing;
  return Set(std::move(key), Map());
}

bool YamlValue::Erase(std::string_view key) {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.first == key; });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

std::string_view YamlValue::KindName() const {
  switch (kind_) {
    case Kind::kNull: return "null";
    case Kind::kScalar: return "a scalar";
    case Kind::kMap: return "a map";
    case Kind::kSeq: return "a list";
  }
  return "?";
}

namespace {

// Aliases let a small document expand to an enormous tree ("billion laughs");
// conversion stops past this many nodes.
constexpr std::size_t kMaxNodes = 200'000;

std::string Where(std::string_view what, const YAML::Mark& mark) {
  std::string out(what);
  if (mark.is_null()) return out;
  // Appended piece by piece: `":" + std::to_string(...)` makes GCC 12 at -O3
  // report a false -Wrestrict inside libstdc++ (GCC PR 105651).
  out += ':';
  out += std::to_string(mark.line + 1);
  out += ':';
  out += std::to_string(mark.column + 1);
  return out;
}

// YAML text is Unicode: a string that is not UTF-8 could not be written
// back faithfully (and Talos's reader refuses it).
bool IsValidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t len = b0 < 0x80 ? 1 : (b0 & 0xE0) == 0xC0 ? 2 : (b0 & 0xF0) == 0xE0 ? 3 : (b0 & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    std::uint32_t cp = len == 1 ? b0 : len == 2 ? (b0 & 0x1F) : len == 3 ? (b0 & 0x0F) : (b0 & 0x07);
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

class Converter {
 public:
  explicit Converter(std::string_view what) : what_(what) {}

  Result<YamlValue> Convert(const YAML::Node& node, int depth) {
    if (depth > kMaxYamlDepth) {
      return Status(ErrorCode::kInvalidArgument,
                    Where(what_, node.Mark()) + ": nested deeper than " + std::to_string(kMaxYamlDepth) + " levels");
    }
    if (++nodes_ > kMaxNodes) {
      return Status(ErrorCode::kInvalidArgument, std::string(what_) + ": more than " + std::to_string(kMaxNodes) +
                                                     " nodes (alias expansion?)");
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return YamlValue::Null();
      case YAML::NodeType::Scalar:
        if (!IsValidUtf8(node.Scalar())) {
          return Status(ErrorCode::kInvalidArgument, Where(what_, node.Mark()) + ": text is not valid UTF-8");
        }
        return ConvertScalar(node);
      case YAML::NodeType::Sequence: {
        YamlValue seq = YamlValue::Seq();
        for (const auto& item : node) {
          auto converted = Convert(item, depth + 1);
          if (!converted.ok()) return converted.status();
          seq.items().push_back(std::move(converted).value());
        }
        return seq;
      }
      case YAML::NodeType::Map: {
        YamlValue map = YamlValue::Map();
        std::unordered_set<std::string> seen;
        for (const auto& kv : node) {
          if (!kv.first.IsScalar()) {
            return Status(ErrorCode::kInvalidArgument,
                          Where(what_, kv.first.Mark()) + ": a map key must be a plain string");
          }
          std::string key = kv.first.Scalar();
          if (!IsValidUtf8(key)) {
            return Status(ErrorCode::kInvalidArgument, Where(what_, kv.first.Mark()) + ": key is not valid UTF-8");
          }
          if (!seen.insert(key).second) {
            return Status(ErrorCode::kInvalidArgument,
                          Where(what_, kv.first.Mark()) + ": duplicate key '" + key + "'");
          }
          auto converted = Convert(kv.second, depth + 1);
          if (!converted.ok()) return converted.status();
          map.entries().emplace_back(std::move(key), std::move(converted).value());
        }
        return map;
      }
    }
    return YamlValue::Null();
  }

 private:
  static YamlValue ConvertScalar(const YAML::Node& node) {
    const std::string& tag = node.Tag();
    if (tag == "?") return YamlValue::Plain(node.Scalar());
    YamlValue v = YamlValue::String(node.Scalar());
    // "!" marks a quoted or block scalar; !!str says string explicitly. Any
    // other explicit tag is kept so the reader sees it again.
    if (tag != "!" && !tag.empty() && tag != "tag:yaml.org,2002:str") v.set_tag(tag);
    return v;
  }

  std::string_view what_;
  std::size_t nodes_ = 0;
};

bool EqualsAny(std::string_view text, std::initializer_list<std::string_view> words) {
  return std::any_of(words.begin(), words.end(), [&](std::string_view w) { return w == text; });
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Consumes chars of `set` (and '_', as YAML 1.1 allows) from s[i]; returns how many.
std::size_t Span(std::string_view s, std::size_t i, bool (*in_set)(char)) {
  std::size_t n = 0;
  while (i + n < s.size() && (in_set(s[i + n]) || s[i + n] == '_')) ++n;
  return n;
}

// Integers of YAML 1.2 core and 1.1 (binary, octal, hex, decimal,
// sexagesimal): a string of that shape is quoted so no reader takes it as a number.
bool IsYamlInt(std::string_view s) {
  std::size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i >= s.size() || !IsDigit(s[i])) return false;
  const std::string_view rest = s.substr(i);
  auto all = [&](std::size_t from, bool (*in_set)(char)) {
    return from < rest.size() && Span(rest, from, in_set) == rest.size() - from;
  };
  if (rest.starts_with("0b")) return all(2, [](char c) { return c == '0' || c == '1'; });
  if (rest.starts_with("0o")) return all(2, [](char c) { return c >= '0' && c <= '7'; });
  if (rest.starts_with("0x")) {
    return all(2, [](char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); });
  }
  std::size_t j = Span(rest, 0, IsDigit);
  if (j == rest.size()) return true;
  // Sexagesimal: 1:30, 190:20:30.
  if (rest[0] == '0') return false;
  while (j < rest.size() && rest[j] == ':') {
    const std::size_t k = Span(rest, j + 1, IsDigit);
    if (k == 0 || k > 2) return false;
    j += 1 + k;
  }
  return j == rest.size();
}

bool IsYamlFloat(std::string_view s) {
  if (EqualsAny(s, {".nan", ".NaN", ".NAN"})) return true;
  std::size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  const std::string_view rest = s.substr(i);
  if (EqualsAny(rest, {".inf", ".Inf", ".INF"})) return true;
  std::size_t j = Span(rest, 0, IsDigit);
  const bool int_part = j > 0 && IsDigit(rest[0]);
  bool frac_part = false;
  if (j < rest.size() && rest[j] == '.') {
    const std::size_t k = Span(rest, j + 1, IsDigit);
    frac_part = k > 0 && IsDigit(rest[j + 1]);
    j += 1 + k;
  }
  if (!int_part && !frac_part) return false;
  if (j < rest.size() && (rest[j] == 'e' || rest[j] == 'E')) {
    ++j;
    if (j < rest.size() && (rest[j] == '-' || rest[j] == '+')) ++j;
    std::size_t k = 0;
    while (j + k < rest.size() && IsDigit(rest[j + k])) ++k;
    if (k == 0) return false;
    j += k;
  }
  return j == rest.size();
}

}  // namespace

Result<YamlValue> FromYamlCpp(const YAML::Node& node, std::string_view what) {
  Converter converter(what);
  return converter.Convert(node, 0);
}

namespace {

// Builds YamlValue documents straight from yaml-cpp's parser events. Not
// YAML::LoadAll: yaml-cpp 0.7's LoadAll loops forever, allocating, on input
// such as "," (jbeder/yaml-cpp#1040, fixed upstream by PR #1319); driving the
// parser ourselves lets us notice a document that makes no progress.
class TreeBuilder : public YAML::EventHandler {
 public:
  explicit TreeBuilder(std::string_view what) : what_(what) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    root_ = YamlValue::Null();
    stack_.clear();
    anchors_.clear();
    nodes_ = 0;
    start_mark_ = mark;
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (Count(mark, 1)) Add(YamlValue::Null(), mark, anchor, 1);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) return Fail(mark, "alias of an unknown anchor");
    if (Count(mark, it->second.second)) Add(it->second.first, mark, 0, it->second.second);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (!Count(mark, 1)) return;
    if (!IsValidUtf8(value)) return Fail(mark, "text is not valid UTF-8");
    YamlValue v;
    if (tag == "?") {
      v = YamlValue::Plain(value);
    } else {
      v = YamlValue::String(value);
      if (tag != "!" && !tag.empty() && tag != "tag:yaml.org,2002:str") v.set_tag(tag);
    }
    Add(std::move(v), mark, anchor, 1);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(YamlValue::Seq(), mark, anchor);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(YamlValue::Map(), mark, anchor);
  }
  void OnMapEnd() override { Close(); }

  const Status& error() const { return error_; }
  YamlValue TakeRoot() { return std::move(root_); }
  const YAML::Mark& start_mark() const { return start_mark_; }

 private:
  struct Frame {
    YamlValue value;
    YAML::Mark mark;
    YAML::anchor_t anchor = 0;
    std::size_t nodes_at_start = 0;
    bool have_key = false;
    std::string key;
    YAML::Mark key_mark;
    std::unordered_set<std::string> keys;
  };

  void Fail(const YAML::Mark& mark, const std::string& message) {
    if (error_.ok()) error_ = Status(ErrorCode::kInvalidArgument, Where(what_, mark) + ": " + message);
  }

  // Counts `n` more nodes; false (and an error) past the limit.
  bool Count(const YAML::Mark& mark, std::size_t n) {
    if (!error_.ok()) return false;
    nodes_ += n;
    if (nodes_ > kMaxNodes) {
      Fail(mark, "more than " + std::to_string(kMaxNodes) + " nodes (alias expansion?)");
      return false;
    }
    return true;
  }

  void Open(YamlValue value, const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (!Count(mark, 1)) return;
    if (stack_.size() >= static_cast<std::size_t>(kMaxYamlDepth)) {
      return Fail(mark, "nested deeper than " + std::to_string(kMaxYamlDepth) + " levels");
    }
    Frame f;
    f.value = std::move(value);
    f.mark = mark;
    f.anchor = anchor;
    f.nodes_at_start = nodes_;
    stack_.push_back(std::move(f));
  }

  void Close() {
    if (!error_.ok() || stack_.empty()) return;
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    const std::size_t subtree = nodes_ - f.nodes_at_start + 1;
    Add(std::move(f.value), f.mark, f.anchor, subtree);
  }

  void Add(YamlValue value, const YAML::Mark& mark, YAML::anchor_t anchor, std::size_t subtree_nodes) {
    if (!error_.ok()) return;
    if (anchor != 0) anchors_[anchor] = {value, subtree_nodes};
    if (stack_.empty()) {
      root_ = std::move(value);
      return;
    }
    Frame& top = stack_.back();
    if (top.value.is_seq()) {
      top.value.items().push_back(std::move(value));
      return;
    }
    if (!top.have_key) {
      if (!value.is_scalar()) return Fail(mark, "a map key must be a plain string");
      if (!top.keys.insert(value.text()).second) return Fail(mark, "duplicate key '" + value.text() + "'");
      top.have_key = true;
      top.key = value.text();
      top.key_mark = mark;
      return;
    }
    top.value.entries().emplace_back(std::move(top.key), std::move(value));
    top.have_key = false;
    top.key.clear();
  }

  std::string_view what_;
  Status error_;
  YamlValue root_;
  std::vector<Frame> stack_;
  std::unordered_map<YAML::anchor_t, std::pair<YamlValue, std::size_t>> anchors_;
  std::size_t nodes_ = 0;
  YAML::Mark start_mark_;
};

}  // namespace

Result<std::vector<YamlValue>> ParseYamlDocuments(std::string_view text, std::string_view what) {
  std::vector<YamlValue> out;
  std::istringstream stream{std::string(text)};
  TreeBuilder builder(what);
  try {
    YAML::Parser parser(stream);
    std::optional<std::pair<int, int>> last_empty;
    while (parser.HandleNextDocument(builder)) {
      if (!builder.error().ok()) return builder.error();
      YamlValue doc = builder.TakeRoot();
      if (!doc.is_null()) {
        out.push_back(std::move(doc));
        last_empty.reset();
        continue;
      }
      // An empty document at the very place of the previous one: the parser
      // is stuck (yaml-cpp#1040), which only happens on invalid input.
      const std::pair<int, int> at{builder.start_mark().pos, builder.start_mark().line};
      if (last_empty == at) {
        return Status(ErrorCode::kInvalidArgument, Where(what, builder.start_mark()) + ": not valid YAML");
      }
      last_empty = at;
    }
  } catch (const YAML::Exception& e) {
    // e.msg is the grammar complaint ("end of map not found"), never a value.
    return Status(ErrorCode::kInvalidArgument, Where(what, e.mark) + ": not valid YAML: " + e.msg);
  }
  return out;
}

YamlScalarType ResolvePlainScalar(std::string_view text) {
  if (EqualsAny(text, {"", "~", "null", "Null", "NULL"})) return YamlScalarType::kNull;
  // YAML 1.1 booleans too: go-yaml still reads yes/no/on/off into bool fields.
  if (EqualsAny(text, {"true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes", "YES", "no", "No", "NO",
                       "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N"})) {
    return YamlScalarType::kBool;
  }
  if (IsYamlInt(text)) return YamlScalarType::kInt;
  if (IsYamlFloat(text)) return YamlScalarType::kFloat;
  return YamlScalarType::kString;
}

YamlScalarType ResolveScalar(const YamlValue& scalar) {
  if (scalar.is_null()) return YamlScalarType::kNull;
  if (!scalar.tag().empty()) {
    const std::string& t = scalar.tag();
    if (t == "tag:yaml.org,2002:int") return YamlScalarType::kInt;
    if (t == "tag:yaml.org,2002:float") return YamlScalarType::kFloat;
    if (t == "tag:yaml.org,2002:bool") return YamlScalarType::kBool;
    if (t == "tag:yaml.org,2002:null") return YamlScalarType::kNull;
    return YamlScalarType::kString;
  }
  return scalar.plain() ? ResolvePlainScalar(scalar.text()) : YamlScalarType::kString;
}

bool SemanticallyEqual(const YamlValue& a, const YamlValue& b) {
  const bool a_scalarish = a.is_scalar() || a.is_null();
  const bool b_scalarish = b.is_scalar() || b.is_null();
  if (a_scalarish && b_scalarish) {
    const YamlScalarType ta = ResolveScalar(a);
    const YamlScalarType tb = ResolveScalar(b);
    if (ta != tb) return false;
    if (ta == YamlScalarType::kNull) return true;
    if (ta == YamlScalarType::kBool) {
      auto truthy = [](const std::string& t) { return EqualsAny(t, {"true", "True", "TRUE", "yes", "Yes", "YES",
                                                                    "on", "On", "ON", "y", "Y"}); };
      return truthy(a.text()) == truthy(b.text());
    }
    return a.text() == b.text();
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_seq()) {
    if (a.items().size() != b.items().size()) return false;
    for (std::size_t i = 0; i < a.items().size(); ++i) {
      if (!SemanticallyEqual(a.items()[i], b.items()[i])) return false;
    }
    return true;
  }
  if (a.entries().size() != b.entries().size()) return false;
  for (const auto& [key, value] : a.entries()) {
    const YamlValue* other = b.Find(key);
    if (other == nullptr || !SemanticallyEqual(value, *other)) return false;
  }
  return true;
}

}  // namespace metalpxe
