#pragma once
// Checks at config load that every Talos patch applies to the config it is
// meant for, so a bad patch is a FILE:LINE:COLUMN problem of
// `metalpxed --check-config` (and a refused reload) instead of an HTTP 500
// when the machine boots. The loaders call these and map each problem to the
// YAML node it names; the checks render exactly as the config endpoint does
// (machine_config_renderer.h).
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/install/machine_config_renderer.h"

namespace metalpxe {

struct PatchProblem {
  enum class Where {
    kBaseConfig,  // the profile's configs.<role> file itself
    kPatch,       // patches[patch] (and, when item is set, its operation or document)
    kShorthand,   // a machine key: installDisk, ip, name
  };
  Where where = Where::kPatch;
  Role role = Role::kWorker;  // kBaseConfig: which configs entry
  std::size_t patch = 0;
  std::optional<std::size_t> item;
  std::string key;  // kShorthand
  std::string message;
};

// The profile's base config of each role, with the profile's patches.
std::vector<PatchProblem> CheckProfilePatches(const ProfileConfig& profile, BaseConfigCache* cache = nullptr);

// The machine's whole config; only problems of the machine's own patches and
// keys are returned (a profile's are reported with the profile).
std::optional<PatchProblem> CheckMachinePatches(const AppConfig& app, const MachineConfig& machine,
                                                BaseConfigCache* cache = nullptr);

}  // namespace metalpxe
