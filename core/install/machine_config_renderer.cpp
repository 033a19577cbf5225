#include "core/install/machine_config_renderer.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>

#include "core/config_clusters.h"
#include "core/install/config_shorthands.h"
#include "core/install/talos_patch.h"
#include "core/install/yaml_writer.h"

namespace metalpxe {
namespace {

// Base configs are a few tens of KiB; anything this large is a wrong path.
constexpr std::streamsize kMaxBaseConfigBytes = 4 << 20;

// Patches live in the shared AppConfig as yaml-cpp nodes, and yaml-cpp
// updates internal bookkeeping even on reads; renders run on several HTTP
// threads, so reads of shared nodes take turns.
std::mutex g_shared_node_read;

Result<std::string> ReadBaseConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return Status(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kUnavailable,
                  "cannot read base config " + path + ": " + std::strerror(err));
  }
  std::string text;
  char buffer[16384];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (static_cast<std::streamsize>(text.size()) > kMaxBaseConfigBytes) {
      return Status(ErrorCode::kInvalidArgument, "base config " + path + " is larger than 4 MiB");
    }
  }
  if (in.bad()) return Status(ErrorCode::kUnavailable, "error reading base config " + path);
  return text;
}

Result<std::vector<YamlValue>> ParseBaseConfig(const std::string& path) {
  auto text = ReadBaseConfig(path);
  if (!text.ok()) return text.status();
  auto docs = ParseYamlDocuments(*text, path);
  if (!docs.ok()) return docs.status();
  if (Status s = CheckConfigDocuments(*docs, "base config " + path); !s.ok()) return s;
  return docs;
}

Result<std::vector<YamlValue>> BaseConfig(const std::string& path, BaseConfigCache* cache) {
  if (cache == nullptr) return ParseBaseConfig(path);
  auto it = cache->find(path);
  if (it == cache->end()) it = cache->emplace(path, ParseBaseConfig(path)).first;
  return it->second;
}

Result<TalosPatch> PatchFromNode(const YAML::Node& node, const std::string& label, std::size_t* failed_item) {
  Result<YamlValue> value = Status();
  {
    std::lock_guard<std::mutex> lock(g_shared_node_read);
    value = FromYamlCpp(node, label);
  }
  if (!value.ok()) return value.status();
  return PatchFromValue(*value, label, failed_item);
}

// Applies patches in order; on failure fills `failure` with `origin` and where.
Status ApplyPatches(std::vector<YamlValue>& docs, const std::vector<YAML::Node>& patches, const std::string& owner,
                    const std::string& suffix, RenderFailure::Origin origin, RenderFailure* failure) {
  for (std::size_t i = 0; i < patches.size(); ++i) {
    const std::string label = owner + " patch " + std::to_string(i + 1) + suffix;
    std::size_t item = 0;
    auto patch = PatchFromNode(patches[i], label, &item);
    Status s = patch.ok() ? ApplyTalosPatch(docs, *patch, label, &item) : patch.status();
    if (!s.ok()) {
      if (failure != nullptr) *failure = RenderFailure{origin, i, item, {}};
      return s;
    }
  }
  return Status::Ok();
}

const SubnetConfig* SubnetOf(const AppConfig& app, Ipv4Address ip) {
  for (const auto& subnet : app.dhcp.subnets) {
    if (subnet.subnet.Contains(ip)) return &subnet;
  }
  return nullptr;
}

Status Shorthand(Status s, const char* which, RenderFailure* failure) {
  if (!s.ok() && failure != nullptr) *failure = RenderFailure{RenderFailure::Origin::kShorthand, 0, 0, which};
  return s;
}

}  // namespace

Result<std::vector<YamlValue>> RenderProfileDocuments(const ProfileConfig& profile, Role role,
                                                      BaseConfigCache* cache, RenderFailure* failure,
                                                      TalosRelease* release) {
  auto config_it = profile.configs.find(role);
  if (config_it == profile.configs.end() || config_it->second.empty()) {
    if (failure != nullptr) *failure = RenderFailure{RenderFailure::Origin::kProfile, 0, 0, {}};
    return Status(ErrorCode::kFailedPrecondition,
                  "profile '" + profile.name + "' names no " + std::string(RoleName(role)) + " config");
  }
  auto docs = BaseConfig(config_it->second, cache);
  if (!docs.ok()) {
    if (failure != nullptr) *failure = RenderFailure{RenderFailure::Origin::kBaseConfig, 0, 0, {}};
    return docs.status();
  }
  std::vector<YamlValue> out = std::move(docs).value();
  const std::string owner = "profile '" + profile.name + "'";
  const std::string suffix = " (on the " + std::string(RoleName(role)) + " config)";
  if (Status s = ApplyPatches(out, profile.patches, owner, suffix, RenderFailure::Origin::kProfilePatch, failure);
      !s.ok()) {
    return s;
  }
  if (release != nullptr) *release = ReleaseForConfig(profile.talos_version, out);
  return out;
}

Result<std::vector<YamlValue>> RenderMachineDocuments(const AppConfig& app, const MachineConfig& machine,
                                                      BaseConfigCache* cache, RenderFailure* failure) {
  const std::string context = "machine '" + machine.name + "'";
  const std::string profile_name = machine.profile.empty() ? app.boot.default_profile : machine.profile;
  auto profile_it = app.profiles.find(profile_name);
  if (profile_it == app.profiles.end()) {
    if (failure != nullptr) *failure = RenderFailure{RenderFailure::Origin::kProfile, 0, 0, {}};
    return Status(ErrorCode::kNotFound, context + ": profile '" + profile_name + "' is not defined");
  }
  TalosRelease release;
  // A machine of a named cluster renders from its cluster's base config
  // (`talosctl gen config` of that cluster); the profile adds its patches.
  const ProfileConfig* profile = &profile_it->second;
  ProfileConfig with_cluster_base;
  if (ClusterOf(app, machine) != nullptr) {
    if (auto base = BaseConfigPathFor(app, machine)) {
      with_cluster_base = *profile;
      with_cluster_base.configs[machine.role] = *base;
      profile = &with_cluster_base;
    }
  }
  auto rendered = RenderProfileDocuments(*profile, machine.role, cache, failure, &release);
  if (!rendered.ok()) return Status(rendered.status().code(), context + ": " + rendered.status().message());
  std::vector<YamlValue> docs = std::move(rendered).value();

  if (!machine.install_disk.empty()) {
    Status s = ApplyInstallDiskShorthand(docs, release, machine.install_disk, context + " installDisk");
    if (!s.ok()) return Shorthand(s, "installDisk", failure);
  }
  const SubnetConfig* subnet = machine.ip ? SubnetOf(app, *machine.ip) : nullptr;
  if (machine.ip) {
    if (machine.macs.empty()) {
      return Shorthand(Status(ErrorCode::kFailedPrecondition, context + ": a static ip needs a MAC to select the NIC"),
                       "ip", failure);
    }
    const StaticAddress address{machine.macs.front(), *machine.ip, subnet ? subnet->subnet.prefix_length : 24,
                                subnet ? subnet->router : std::nullopt};
    Status s = ApplyStaticAddressShorthand(docs, release, address, context + " ip");
    if (!s.ok()) return Shorthand(s, "ip", failure);
  }
  if (Status s = ApplyPatches(docs, machine.patches, context, "", RenderFailure::Origin::kMachinePatch, failure);
      !s.ok()) {
    return s;
  }
  if (subnet != nullptr) {
    Status s = ApplyDefaultNameservers(docs, release, subnet->dns, context + " ip");
    if (!s.ok()) return Shorthand(s, "ip", failure);
  }
  Status s = ApplyDefaultHostname(docs, release, machine.name, context + " hostname");
  if (!s.ok()) return Shorthand(s, "name", failure);
  return docs;
}

Result<std::string> RenderMachineConfig(const AppConfig& app, const MachineConfig& machine) {
  auto docs = RenderMachineDocuments(app, machine, nullptr, nullptr);
  if (!docs.ok()) return docs.status();
  return WriteYamlDocuments(*docs);
}

}  // namespace metalpxe
