#pragma once
// The kernel command line a Talos installer boots with (docs/design.md,
// "Talos kernel arguments"). One function, shared by the iPXE script and the
// Hetzner rescue kexec path, so both installs are identical.
#include <string>
#include <vector>

#include "core/boot_client.h"
#include "core/config.h"

namespace metalpxe {

// Arguments in order: initrd=<name> (UEFI iPXE needs it), the Talos
// platform/config/event/log arguments, hardening defaults, then the
// profile's and the machine's own. `wipe` adds talos.experimental.wipe=system.
// `config_url` carries a secret token: the result must never be logged. An
// empty `config_url` (configDelivery apply) leaves talos.config out: Talos
// then waits in maintenance mode for ApplyConfiguration. Over IPv6 the event
// sink and kernel-log addresses are IPv6 literals ("[fd00:66::1]:50101").
std::vector<std::string> TalosKernelArgs(const ServerConfig& server, const ProfileConfig& profile,
                                         const MachineConfig* machine, const std::string& config_url, bool wipe,
                                         IpFamily family = IpFamily::kIpv4);

std::string JoinArgs(const std::vector<std::string>& args);

}  // namespace metalpxe
