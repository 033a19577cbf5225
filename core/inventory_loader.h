#pragma once
// The inventory: machines with their MACs, role, profile, disk, static IP,
// BMC and patches (docs/config.md "inventory"). Validated against the appliance
// config it belongs to (profiles, DHCP subnets).
#include <memory>
#include <string>

#include <yaml-cpp/yaml.h>

#include "core/config.h"
#include "core/config_problem.h"

namespace metalpxe {

// `root` is the document holding `machines:`; problems are reported against `file`.
std::shared_ptr<const Inventory> ReadInventory(const YAML::Node& root, const std::string& file,
                                               const std::string& base_dir, const AppConfig& config,
                                               ConfigProblems& problems);

std::shared_ptr<const Inventory> LoadInventoryFile(const std::string& path, const AppConfig& config,
                                                   ConfigProblems& problems);

}  // namespace metalpxe
