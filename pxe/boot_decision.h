#pragma once
// What a machine gets when its iPXE asks "what now?": the Talos installer,
// its own disk, a wait-and-retry loop (discovered), or nothing. A pure
// function of the config snapshot and the machine's state, so the same
// decision serves /ipxe, the DHCP boot-file choice and the API.
#include <string>

#include "core/config.h"
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

// Name an auto-installed machine gets: "node-" + MAC without separators.
std::string AutoInstallName(const std::string& mac_text);

}  // namespace metalpxe
