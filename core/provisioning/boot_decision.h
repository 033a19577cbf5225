#pragma once
// What a machine gets when it network-boots: the Talos installer, its own
// disk, a wait-and-retry loop (discovered), or nothing; and which machine an
// installer is. Pure functions of the config snapshot and the machine's
// state. The provisioning service calls them for the DHCP answer, /ipxe and
// the config fetch alike, so all three agree.
#include <optional>
#include <string>

#include "core/config.h"
#include "core/provisioning/boot_files.h"
#include "core/machine_state.h"

namespace metalpxe {

enum class BootAction {
  kInstall,       // kernel + initramfs with the machine's Talos arguments
  kBootFromDisk,  // exit, sanboot or HTTP 404 (disk_mode)
  kDiscover,      // unknown machine held in a retry loop until accepted
  kIgnore,        // unknown machine under policy ignore
};

struct BootDecision {
  BootAction action = BootAction::kIgnore;
  BootFromDisk disk_mode = BootFromDisk::kExit;  // for kBootFromDisk
  // For kInstall: who it installs as. For auto-install of an unknown
  // machine these come from boot.defaultRole/defaultProfile.
  std::string machine_name;
  Role role = Role::kWorker;
  const ProfileConfig* profile = nullptr;
  const MachineConfig* machine = nullptr;  // nullptr for auto-install
  std::string why;                         // for logs and the script's echo line
};

// `machine` is the inventory entry for the MAC (nullptr when unknown).
BootDecision DecideBoot(const AppConfig& config, const MachineConfig* machine, MachineState state,
                        const std::string& mac_text);

// The boot file a DHCP answer names: none for a machine the policy ignores,
// else the loader table's answer for that client (boot_files.h). Under
// secureBoot uki the firmware is handed the profile's UKI, only while the
// machine installs and only when its CPU runs the profile's arch.
LoaderChoice DecideLoader(const AppConfig& config, const BootClient& client, const MacAddress& mac,
                          MachineState state, const std::function<bool(std::string_view)>& loader_exists);

// The machine a MAC installs as, whatever its state: its inventory entry, or
// under policy auto-install one made from boot.defaultRole/defaultProfile;
// nullopt for an unknown machine under any other policy.
std::optional<MachineConfig> MachineToInstall(const AppConfig& config, const MacAddress& mac);

// Which signed path this machine boots through (none, shim + GRUB, the
// profile's UKI): the machine's secureBoot over its profile's
// (MachineSecureBoot); for an unknown machine the default profile's under
// auto-install, else none.
SecureBootChain SecureBootFor(const AppConfig& config, const MachineConfig* machine);

// Name an auto-installed machine gets: "node-" + MAC without separators.
std::string AutoInstallName(const std::string& mac_text);

}  // namespace metalpxe
