#pragma once
// The kernel command line a Talos installer boots with (DESIGN.md "Talos
// kernel arguments"). One function, shared by the iPXE script and the
// Hetzner rescue kexec path, so both installs are identical.
#include <string>
#include <vector>

#include "core/config.h"

namespace metalpxe {

struct TalosBootUrls {
  std::string kernel;     // http://A:P/assets/profiles/<profile>/vmlinuz
  std::string initramfs;  // http://A:P/assets/profiles/<profile>/initramfs.xz
  std::string config;     // http://A:P/config/<token>
};

inline constexpr const char* kInitrdName = "initramfs.xz";

TalosBootUrls BootUrlsFor(const ServerConfig& server, const std::string& profile, const std::string& token);

// Arguments in order: initrd=<name> (UEFI iPXE needs it), the Talos
// platform/config/event/log arguments, hardening defaults, then the
// profile's and the machine's own. `wipe` adds talos.experimental.wipe=system.
std::vector<std::string> TalosKernelArgs(const ServerConfig& server, const ProfileConfig& profile,
                                         const MachineConfig* machine, const std::string& config_url, bool wipe);

std::string JoinArgs(const std::vector<std::string>& args);

}  // namespace metalpxe
