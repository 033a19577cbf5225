#include "tests/e2e/installer/talos_config_identity.h"

#include <yaml-cpp/yaml.h>

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

}  // namespace

Result<ConfigIdentity> IdentityFromTalosConfig(std::string_view yaml) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(yaml));
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
    return id;
  }
  return Status(ErrorCode::kInvalidArgument, "config has no machine section");
}

}  // namespace metalpxe::standin
