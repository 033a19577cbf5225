#include "tests/e2e/installer/talos_config_identity.h"

#include <yaml-cpp/yaml.h>

#include <vector>

namespace metalpxe::standin {

namespace {

constexpr const char* kFixtureLabel = "metalpxe-fixture";

// Comments do not survive YAML parsing, so the fixture marker (which tells the
// controlplane and worker base configs apart) is read from the text.
std::string FixtureMarker(std::string_view yaml) {
  constexpr std::string_view kKey = "# metalpxe-fixture:";
  const size_t at = yaml.find(kKey);
  if (at == std::string_view::npos) return "";
  size_t begin = at + kKey.size();
  while (begin < yaml.size() && yaml[begin] == ' ') ++begin;
  size_t end = yaml.find('\n', begin);
  if (end == std::string_view::npos) end = yaml.size();
  return std::string(yaml.substr(begin, end - begin));
}

// Splits at "---" lines (YAML document markers at column 0).
std::vector<std::string_view> SplitDocuments(std::string_view yaml) {
  std::vector<std::string_view> docs;
  size_t start = 0, line = 0;
  while (line < yaml.size()) {
    size_t end = yaml.find('\n', line);
    if (end == std::string_view::npos) end = yaml.size();
    const std::string_view text = yaml.substr(line, end - line);
    if (text.starts_with("---") && (text.size() == 3 || text[3] == ' ' || text[3] == '\r')) {
      docs.push_back(yaml.substr(start, line - start));
      start = end < yaml.size() ? end + 1 : end;
    }
    line = end + 1;
  }
  docs.push_back(yaml.substr(start));
  return docs;
}

}  // namespace

Result<ConfigIdentity> IdentityFromTalosConfig(std::string_view yaml) {
  // Documents are split here and loaded one by one: yaml-cpp 0.7's LoadAll
  // loops forever on some malformed input (",$2[", found by
  // fuzz_standin_parsers), while Load returns or throws.
  std::vector<YAML::Node> docs;
  try {
    for (std::string_view doc : SplitDocuments(yaml)) docs.push_back(YAML::Load(std::string(doc)));
  } catch (const YAML::Exception& e) {
    return Status(ErrorCode::kInvalidArgument, std::string("config is not YAML: ") + e.what());
  }
  for (const YAML::Node& doc : docs) {
    if (!doc.IsMap() || !doc["machine"] || !doc["machine"].IsMap()) continue;
    const YAML::Node machine = doc["machine"];
    ConfigIdentity id;
    id.marker = FixtureMarker(yaml);
    try {
      if (machine["type"] && machine["type"].IsScalar()) id.role = machine["type"].as<std::string>();
      const YAML::Node network = machine["network"];
      if (network && network.IsMap() && network["hostname"] && network["hostname"].IsScalar()) {
        id.hostname = network["hostname"].as<std::string>();
      }
      // A label survives any re-rendering of the config; the comment does not.
      const YAML::Node labels = machine["nodeLabels"];
      if (labels && labels.IsMap() && labels[kFixtureLabel] && labels[kFixtureLabel].IsScalar()) {
        id.marker = labels[kFixtureLabel].as<std::string>();
      }
    } catch (const YAML::Exception& e) {
      return Status(ErrorCode::kInvalidArgument, std::string("bad machine section: ") + e.what());
    }
    if (id.role.empty()) return Status(ErrorCode::kInvalidArgument, "config has no machine.type");
    // Talos 1.12+ keeps the hostname in a HostnameConfig document.
    for (const YAML::Node& other : docs) {
      if (!id.hostname.empty()) break;
      if (other.IsMap() && other["kind"] && other["kind"].IsScalar() && other["kind"].Scalar() == "HostnameConfig" &&
          other["hostname"] && other["hostname"].IsScalar()) {
        id.hostname = other["hostname"].Scalar();
      }
    }
    return id;
  }
  return Status(ErrorCode::kInvalidArgument, "config has no machine section");
}

}  // namespace metalpxe::standin
