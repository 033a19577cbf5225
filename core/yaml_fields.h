#pragma once
// Typed, position-aware reading of YAML maps for config validation. Every
// problem (wrong type, bad value, unknown key, missing key) is recorded with
// the file, line and column of the offending node, so `--check-config` can
// point the user at it; reading goes on after a problem so one run reports
// them all.
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/config_problem.h"

namespace metalpxe {

class ProblemSink {
 public:
  ProblemSink(std::string file, ConfigProblems* out) : file_(std::move(file)), out_(out) {}
  void Add(const YAML::Mark& mark, std::string message);
  void Add(const YAML::Node& at, std::string message) { Add(at.Mark(), std::move(message)); }
  void AddFileLevel(std::string message);  // line 0: about the file as a whole
  // A problem found in another file that this one names (e.g. a talosconfig).
  void AddProblem(ConfigProblem problem) { out_->push_back(std::move(problem)); }
  const std::string& file() const { return file_; }
  std::size_t count() const { return out_->size(); }

 private:
  std::string file_;
  ConfigProblems* out_;
};

class MapReader {
 public:
  // `what` names the map in messages ("server", "machines[2].bmc").
  MapReader(ProblemSink& sink, const YAML::Node& node, std::string what);

  bool is_map() const { return is_map_; }
  const YAML::Node& node() const { return node_; }
  const std::string& what() const { return what_; }
  bool Has(std::string_view key) const;
  YAML::Mark KeyMark(std::string_view key) const;  // where the key stands (else the map)

  YAML::Node Raw(std::string_view key);  // marks the key as known; may be undefined
  std::optional<std::string> String(std::string_view key, bool required = false);
  std::optional<long long> Int(std::string_view key, long long min, long long max, bool required = false);
  std::optional<bool> Bool(std::string_view key);
  std::optional<std::vector<std::string>> StringList(std::string_view key);
  // A list of kernel arguments, each checked with IsSafeKernelArg.
  std::optional<std::vector<std::string>> KernelArgs(std::string_view key);

  template <typename E>
  std::optional<E> Enum(std::string_view key, std::initializer_list<std::pair<std::string_view, E>> values,
                        bool required = false) {
    auto text = String(key, required);
    if (!text) return std::nullopt;
    std::string allowed;
    for (const auto& [name, value] : values) {
      if (name == *text) return value;
      allowed += (allowed.empty() ? "" : " | ") + std::string(name);
    }
    sink_.Add(Raw(key), Field(key) + ": '" + *text + "' is not one of " + allowed);
    return std::nullopt;
  }

  // Records "unknown key" for every key no getter asked for (typos such as
  // `adress` are the commonest config mistake), with a did-you-mean hint.
  void RejectUnknownKeys();

  std::string Field(std::string_view key) const;  // "server.address"
  ProblemSink& sink() { return sink_; }

 private:
  ProblemSink& sink_;
  YAML::Node node_;
  std::string what_;
  bool is_map_ = false;
  std::set<std::string, std::less<>> known_;
};

// The YAML type of a node in words, for messages ("a list", "a string").
std::string DescribeYamlType(const YAML::Node& node);

}  // namespace metalpxe
