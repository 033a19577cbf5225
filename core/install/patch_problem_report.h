#pragma once
// The one call each config loader makes (core/config_loader.cpp for
// profiles, core/inventory_loader.cpp for machines) to check its Talos
// patches at load time (patch_check.h): each problem is reported at the YAML
// node it is about (the patch, the JSON6902 operation, the configs entry or
// the machine key), so `--check-config` prints FILE:LINE:COLUMN.
#include <string>

#include <yaml-cpp/yaml.h>

#include "core/config.h"
#include "core/install/machine_config_renderer.h"
#include "core/yaml_fields.h"

namespace metalpxe {

// `profile_node` is the profile's map in the appliance config.
void ReportProfilePatchProblems(ProblemSink& sink, const YAML::Node& profile_node, const ProfileConfig& profile);

// `machine_node` is the machine's map in the inventory; `app` holds the
// profiles and subnets the machine renders with.
void ReportMachinePatchProblems(ProblemSink& sink, const YAML::Node& machine_node, const AppConfig& app,
                                const MachineConfig& machine, BaseConfigCache* cache);

}  // namespace metalpxe
