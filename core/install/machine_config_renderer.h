#pragma once
// Renders the Talos machine config one machine fetches, in this order:
//   1. the profile's base config for the machine's role (`talosctl gen config`
//      output, one or more documents; none is fine too);
//   2. the profile's patches;
//   3. the installDisk and ip shorthands;
//   4. the machine's own patches (so they can still change 3);
//   5. defaults that apply only when nothing above set them: the machine's
//      name as hostname, the subnet's DNS servers as nameservers (with ip).
// Patches follow talosctl's rules (talos_patch.h: strategic merge by
// document, JSON6902 on single-document configs). The shorthands and
// defaults write what the machine's Talos release reads (config_shorthands.h,
// talos_config_shape.h): multi-document settings for 1.12 and later, v1alpha1
// fields before.
//
// Pure apart from reading the base file. Errors are human messages naming
// files, patches and key paths, never values: configs hold cluster CA keys
// and tokens.
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/install/talos_config_shape.h"
#include "core/install/yaml_tree.h"
#include "core/result.h"

namespace metalpxe {

Result<std::string> RenderMachineConfig(const AppConfig& app, const MachineConfig& machine);

// Where a render failed, so config checks can point at the right line.
struct RenderFailure {
  enum class Origin { kProfile, kBaseConfig, kProfilePatch, kShorthand, kMachinePatch };
  Origin origin = Origin::kProfile;
  std::size_t patch = 0;  // index into the profile's or the machine's patches
  std::size_t item = 0;   // the JSON6902 operation or document of that patch at fault
  std::string shorthand;  // "installDisk", "ip", "name"
};

// Parsed base configs by path, shared by the renders of one config check.
using BaseConfigCache = std::map<std::string, Result<std::vector<YamlValue>>>;

// The rendered documents; `cache` and `failure` may be null.
Result<std::vector<YamlValue>> RenderMachineDocuments(const AppConfig& app, const MachineConfig& machine,
                                                      BaseConfigCache* cache, RenderFailure* failure);

// A profile's config for a role (base and profile patches only), and the
// Talos release its shorthands would be written for.
Result<std::vector<YamlValue>> RenderProfileDocuments(const ProfileConfig& profile, Role role,
                                                      BaseConfigCache* cache, RenderFailure* failure,
                                                      TalosRelease* release = nullptr);

}  // namespace metalpxe
