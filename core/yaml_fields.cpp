#include "core/yaml_fields.h"

#include <algorithm>

#include "core/config.h"

namespace metalpxe {
namespace {

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

void ProblemSink::Add(const YAML::Mark& mark, std::string message) {
  const int line = mark.line >= 0 ? mark.line + 1 : 0;
  const int column = mark.column >= 0 ? mark.column + 1 : 0;
  out_->push_back({file_, line, column, std::move(message)});
}

void ProblemSink::AddFileLevel(std::string message) { out_->push_back({file_, 0, 0, std::move(message)}); }

std::string DescribeYamlType(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined: return "nothing";
    case YAML::NodeType::Null: return "an empty value";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
  }
  return "something else";
}

MapReader::MapReader(ProblemSink& sink, const YAML::Node& node, std::string what)
    : sink_(sink), node_(node), what_(std::move(what)) {
  is_map_ = node.IsMap();
  if (!is_map_ && node.IsDefined() && !node.IsNull())
    sink_.Add(node, what_ + " must be a map, not " + DescribeYamlType(node));
}

std::string MapReader::Field(std::string_view key) const {
  return what_.empty() ? std::string(key) : what_ + "." + std::string(key);
}

bool MapReader::Has(std::string_view key) const {
  if (!is_map_) return false;
  for (const auto& kv : node_)
    if (kv.first.Scalar() == key) return true;
  return false;
}

YAML::Mark MapReader::KeyMark(std::string_view key) const {
  if (is_map_)
    for (const auto& kv : node_)
      if (kv.first.Scalar() == key) return kv.first.Mark();
  return node_.Mark();
}

YAML::Node MapReader::Raw(std::string_view key) {
  known_.insert(std::string(key));
  if (!is_map_) return YAML::Node(YAML::NodeType::Undefined);
  for (const auto& kv : node_)
    if (kv.first.Scalar() == key) return kv.second;
  return YAML::Node(YAML::NodeType::Undefined);
}

std::optional<std::string> MapReader::String(std::string_view key, bool required) {
  YAML::Node v = Raw(key);
  if (!v.IsDefined() || v.IsNull()) {
    if (required && is_map_) sink_.Add(KeyMark(key), Field(key) + " is required");
    if (v.IsNull() && !required) return std::nullopt;
    return std::nullopt;
  }
  if (!v.IsScalar()) {
    sink_.Add(v, Field(key) + " must be a string, not " + DescribeYamlType(v));
    return std::nullopt;
  }
  return v.Scalar();
}

std::optional<long long> MapReader::Int(std::string_view key, long long min, long long max, bool required) {
  auto text = String(key, required);
  if (!text) return std::nullopt;
  long long value = 0;
  std::size_t used = 0;
  try {
    value = std::stoll(*text, &used, 10);
  } catch (...) {
    used = 0;
  }
  if (used == 0 || used != text->size()) {
    sink_.Add(Raw(key), Field(key) + " must be a whole number, not '" + *text + "'");
    return std::nullopt;
  }
  if (value < min || value > max) {
    sink_.Add(Raw(key), Field(key) + " must be between " + std::to_string(min) + " and " + std::to_string(max) +
                            ", not " + std::to_string(value));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> MapReader::Bool(std::string_view key) {
  auto text = String(key);
  if (!text) return std::nullopt;
  if (*text == "true") return true;
  if (*text == "false") return false;
  sink_.Add(Raw(key), Field(key) + " must be true or false, not '" + *text + "'");
  return std::nullopt;
}

std::optional<std::vector<std::string>> MapReader::StringList(std::string_view key) {
  YAML::Node v = Raw(key);
  if (!v.IsDefined() || v.IsNull()) return std::nullopt;
  if (!v.IsSequence()) {
    sink_.Add(v, Field(key) + " must be a list of strings, not " + DescribeYamlType(v));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].IsScalar()) {
      sink_.Add(v[i], Field(key) + "[" + std::to_string(i) + "] must be a string, not " + DescribeYamlType(v[i]));
      ok = false;
      continue;
    }
    out.push_back(v[i].Scalar());
  }
  if (!ok) return std::nullopt;
  return out;
}

void MapReader::RejectUnknownKeys() {
  if (!is_map_) return;
  for (const auto& kv : node_) {
    const std::string& key = kv.first.Scalar();
    if (known_.count(key)) continue;
    std::string hint;
    std::size_t best = 3;
    for (const auto& k : known_) {
      const std::size_t d = EditDistance(key, k);
      if (d < best) {
        best = d;
        hint = " (did you mean '" + k + "'?)";
      }
    }
    sink_.Add(kv.first, "unknown key '" + Field(key) + "'" + hint);
  }
}

}  // namespace metalpxe

namespace metalpxe {

std::optional<std::vector<std::string>> MapReader::KernelArgs(std::string_view key) {
  auto list = StringList(key);
  if (!list) return std::nullopt;
  bool ok = true;
  for (std::size_t i = 0; i < list->size(); ++i) {
    if (!IsSafeKernelArg((*list)[i])) {
      sink_.Add(Raw(key)[i], Field(key) + "[" + std::to_string(i) + "]: '" + (*list)[i] +
                                 "' is not a single kernel argument (no spaces, quotes, '#' or '$')");
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return list;
}

}  // namespace metalpxe
