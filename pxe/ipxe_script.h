#pragma once
// iPXE scripts, as text. Pure functions: the templates are readable as iPXE
// (Matchbox style) and unit-tested byte for byte.
#include <string>
#include <vector>

#include "core/boot_client.h"
#include "core/config.h"

namespace metalpxe {

// /boot.ipxe: on each interface in turn, make sure it has an address (DHCP
// when not), then chain to /ipxe with that interface's MAC and the machine's
// identity. A machine with several NICs boots from whichever reaches us.
std::string RenderChainScript(const ServerConfig& server, IpFamily family = IpFamily::kIpv4);

// The query iPXE sends to /ipxe, echoed into scripts that chain again.
struct IpxeQuery {
  std::string mac;  // as sent (hex-hyphen)
  std::string uuid;
  std::string serial;
  std::string arch;
  std::string platform;
};
std::string IpxeQueryString(const IpxeQuery& q);

std::string RenderInstallScript(const std::string& machine_name, const std::string& role,
                                const std::string& kernel_url, const std::string& initramfs_url,
                                const std::vector<std::string>& kernel_args);
// secureBoot uki: hand the firmware the profile's signed UKI, as Image
// Factory's PXE script does (`kernel <uki>`, `boot`): no arguments (Talos
// ignores them under Secure Boot; the config comes by apply).
std::string RenderUkiScript(const std::string& machine_name, const std::string& role, const std::string& uki_url);
std::string RenderBootFromDiskScript(const std::string& machine_name, BootFromDisk mode);
std::string RenderDiscoverScript(const ServerConfig& server, const IpxeQuery& q, int retry_seconds,
                                 IpFamily family = IpFamily::kIpv4);
std::string RenderIgnoreScript();

}  // namespace metalpxe
