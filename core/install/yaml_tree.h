#pragma once
// A YAML document as plain values (null, scalar, map, sequence) for the
// machine-config merge. yaml-cpp nodes share memory between copies and lose a
// scalar's quoting when re-emitted ("0755" would come back as the number
// 0755), so the merge works on this value type instead: copies are deep,
// map key order is kept, and every scalar remembers whether it was plain in
// the source (plain text may resolve to a number, bool or null; quoted text
// is always a string).
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/result.h"

namespace metalpxe {

class YamlValue {
 public:
  enum class Kind { kNull, kScalar, kMap, kSeq };
  using Entry = std::pair<std::string, YamlValue>;

  static YamlValue Null() { return YamlValue(); }
  // A string that must stay a string (written quoted when plain text would
  // read as something else).
  static YamlValue String(std::string text);
  // Plain scalar text, resolved by the reader (true, 42, 10.5, ...).
  static YamlValue Plain(std::string text);
  static YamlValue Map() { YamlValue v; v.kind_ = Kind::kMap; return v; }
  static YamlValue Seq() { YamlValue v; v.kind_ = Kind::kSeq; return v; }

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_scalar() const { return kind_ == Kind::kScalar; }
  bool is_map() const { return kind_ == Kind::kMap; }
  bool is_seq() const { return kind_ == Kind::kSeq; }

  // Scalars.
  const std::string& text() const { return text_; }
  bool plain() const { return plain_; }
  // Explicit tag other than the implicit ones (e.g. "tag:yaml.org,2002:str"); usually empty.
  const std::string& tag() const { return tag_; }
  void set_tag(std::string tag) { tag_ = std::move(tag); }

  // Maps (insertion order kept).
  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<Entry>& entries() { return entries_; }
  const YamlValue* Find(std::string_view key) const;
  YamlValue* Find(std::string_view key);
  // Replaces the value of `key`, or appends the entry.
  YamlValue& Set(std::string key, YamlValue value);
  // The value of `key`, inserting an empty map there when absent or null.
  YamlValue& MapAt(std::string key);
  bool Erase(std::string_view key);
  // The text of scalar entry `key`; empty when this is not a map, the key is
  // absent or its value is not a scalar.
  std::string ScalarAt(std::string_view key) const;

  // Sequences.
  const std::vector<YamlValue>& items() const { return items_; }
  std::vector<YamlValue>& items() { return items_; }

  // Kind in words for messages ("a map", "a list", "a scalar", "null").
  std::string_view KindName() const;

 private:
  Kind kind_ = Kind::kNull;
  std::string text_;
  bool plain_ = false;
  std::string tag_;
  std::vector<Entry> entries_;
  std::vector<YamlValue> items_;
};

// Deepest nesting accepted from input: bounds the recursion of every walk
// over a tree (merge, writer) whatever the input.
inline constexpr int kMaxYamlDepth = 200;

// Converts a parsed yaml-cpp node. Fails on complex (non-scalar) map keys,
// duplicate keys and nesting deeper than kMaxYamlDepth. `what` names the
// source in messages; messages never quote scalar values (configs hold secrets).
Result<YamlValue> FromYamlCpp(const YAML::Node& node, std::string_view what);

// Parses every document of `text`; empty documents are dropped.
Result<std::vector<YamlValue>> ParseYamlDocuments(std::string_view text, std::string_view what);

// How a YAML reader resolves a scalar under the core schema: plain text may be
// null, bool, int or float; anything quoted or tagged !!str is a string.
enum class YamlScalarType { kString, kNull, kBool, kInt, kFloat };
YamlScalarType ResolvePlainScalar(std::string_view text);
YamlScalarType ResolveScalar(const YamlValue& scalar);

// Same data for a YAML reader: same structure, map entries in any order,
// scalars with the same resolved type and text.
bool SemanticallyEqual(const YamlValue& a, const YamlValue& b);

}  // namespace metalpxe
