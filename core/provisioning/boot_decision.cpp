#include "core/provisioning/boot_decision.h"

namespace metalpxe {

std::string AutoInstallName(const std::string& mac_text) {
  std::string name = "node-";
  for (char c : mac_text)
    if (c != ':' && c != '-') name += c;
  return name;
}

LoaderChoice DecideLoader(const AppConfig& config, const BootClient& client, const MacAddress& mac,
                          MachineState state, const std::function<bool(std::string_view)>& loader_exists) {
  if (client.stage == BootStage::kOs) return {std::nullopt, "not a network-boot client"};
  const MachineConfig* inventory = config.inventory ? config.inventory->FindByMac(mac) : nullptr;
  const BootDecision d = DecideBoot(config, inventory, state, mac.ToString());
  if (d.action == BootAction::kIgnore) return {std::nullopt, d.why};
  const SecureBootChain chain = SecureBootFor(config, inventory);
  if (chain != SecureBootChain::kUki || client.stage != BootStage::kFirmware)
    return ChooseLoader(client, config.server, loader_exists, chain);
  // The UKI is the installer itself: it goes only to a machine that installs
  // now, and only when its CPU runs the profile's kernel. Installed (or
  // held) machines are offered nothing: the firmware goes on to its disk.
  if (d.action != BootAction::kInstall || !d.profile)
    return {std::nullopt, "Secure Boot (UKI): " + d.why + ", no installer to hand"};
  if (auto mismatch = InstallerArchMismatch(d.profile->arch, client))
    return {std::nullopt, "no UKI offered: " + *mismatch + " (profile " + d.profile->name + ")"};
  return ChooseLoader(client, config.server, loader_exists, chain, d.profile->name);
}

SecureBootChain SecureBootFor(const AppConfig& config, const MachineConfig* machine) {
  if (!machine && config.boot.unknown_machines != UnknownMachinePolicy::kAutoInstall) return SecureBootChain::kNone;
  auto it = config.profiles.find(machine ? machine->profile : config.boot.default_profile);
  const SecureBootChain profile = it != config.profiles.end() ? it->second.secure_boot : SecureBootChain::kNone;
  return MachineSecureBoot(profile, machine ? machine->secure_boot : std::nullopt);
}

std::optional<MachineConfig> MachineToInstall(const AppConfig& config, const MacAddress& mac) {
  if (config.inventory)
    if (const MachineConfig* m = config.inventory->FindByMac(mac)) return *m;
  if (config.boot.unknown_machines != UnknownMachinePolicy::kAutoInstall) return std::nullopt;
  MachineConfig m;
  m.name = AutoInstallName(mac.ToString());
  m.macs = {mac};
  m.role = config.boot.default_role;
  m.profile = config.boot.default_profile;
  return m;
}

BootDecision DecideBoot(const AppConfig& config, const MachineConfig* machine, MachineState state,
                        const std::string& mac_text) {
  BootDecision d;
  if (!machine) {
    switch (config.boot.unknown_machines) {
      case UnknownMachinePolicy::kIgnore:
        d.action = BootAction::kIgnore;
        d.why = "unknown machine, policy ignore";
        return d;
      case UnknownMachinePolicy::kDiscover:
        d.action = BootAction::kDiscover;
        d.why = "unknown machine: waiting to be accepted";
        return d;
      case UnknownMachinePolicy::kAutoInstall:
        break;
    }
    if (state == MachineState::kInstalled || state == MachineState::kRunning) {
      d.action = BootAction::kBootFromDisk;
      d.disk_mode = config.boot.boot_from_disk;
      d.why = "installed";
      return d;
    }
    auto it = config.profiles.find(config.boot.default_profile);
    if (it == config.profiles.end()) {  // validation prevents this; stay safe
      d.action = BootAction::kIgnore;
      d.why = "default profile missing";
      return d;
    }
    d.action = BootAction::kInstall;
    d.machine_name = AutoInstallName(mac_text);
    d.role = config.boot.default_role;
    d.profile = &it->second;
    d.why = "unknown machine, policy auto-install";
    return d;
  }

  d.machine = machine;
  d.machine_name = machine->name;
  d.role = machine->role;
  if (state == MachineState::kInstalled || state == MachineState::kRunning) {
    d.action = BootAction::kBootFromDisk;
    d.disk_mode = machine->boot_from_disk.value_or(config.boot.boot_from_disk);
    d.why = "installed";
    return d;
  }
  auto it = config.profiles.find(machine->profile);
  if (it == config.profiles.end()) {
    d.action = BootAction::kIgnore;
    d.why = "profile " + machine->profile + " missing";
    return d;
  }
  d.action = BootAction::kInstall;
  d.profile = &it->second;
  d.why = std::string(MachineStateName(state));
  return d;
}

}  // namespace metalpxe
