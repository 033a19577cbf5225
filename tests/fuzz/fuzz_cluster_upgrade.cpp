// libFuzzer target: the upgrade command's input checks (Talos version tag,
// schematic ID, Image Factory URL -> installer image) and the plan over
// arbitrary bytes. Input: "version\nschematic\nimageFactory". An image that
// is built must be the reference Talos pulls: <host>/installer/<id>:<tag>.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/cluster_upgrade.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto nl1 = text.find('\n');
  const auto nl2 = nl1 == std::string::npos ? std::string::npos : text.find('\n', nl1 + 1);
  const std::string version = text.substr(0, nl1);
  const std::string schematic = nl1 == std::string::npos ? "" : text.substr(nl1 + 1, nl2 - nl1 - 1);
  const std::string factory = nl2 == std::string::npos ? "https://factory.talos.dev" : text.substr(nl2 + 1);

  (void)metalpxe::IsTalosVersionTag(version);
  (void)metalpxe::IsSchematicId(schematic);
  auto image = metalpxe::FactoryInstallerImage(factory, schematic, version);
  if (image.ok()) {
    const std::string suffix = "/installer/" + schematic + ":" + version;
    if (image->size() <= suffix.size() || image->compare(image->size() - suffix.size(), suffix.size(), suffix) != 0 ||
        image->find_first_of(" \n\t@") != std::string::npos)
      std::abort();
  }
  std::vector<metalpxe::UpgradeCandidate> nodes = {
      {"cp-1", metalpxe::Role::kControlPlane, metalpxe::MachineState::kRunning, "p", schematic, factory},
      {"wk-1", metalpxe::Role::kWorker, metalpxe::MachineState::kRunning, "p", schematic, factory},
  };
  auto plan = metalpxe::PlanUpgrade("prod", nodes, version, "");
  if (plan.ok() && (plan->nodes.size() != 2 || plan->nodes[0].name != "wk-1")) std::abort();
  return 0;
}
