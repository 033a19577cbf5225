#pragma once
// Where machines reach metalpxe over HTTP and the layout of what it serves
// there, said once: the DHCP answer (HTTP boot, iPXE's chain URL), the iPXE
// scripts, the Talos kernel arguments, the Hetzner kexec path and the HTTP
// server's routes all build their URLs and paths here.
#include <string>
#include <string_view>

#include "core/config.h"

namespace metalpxe {

// HTTP routes (paths on server.httpPort).
inline constexpr std::string_view kChainScriptPath = "/boot.ipxe";
inline constexpr std::string_view kMachineScriptPath = "/ipxe";
inline constexpr std::string_view kConfigPathPrefix = "/config/";
inline constexpr std::string_view kAssetsPrefix = "/assets";                    // tftpRoot: iPXE binaries
inline constexpr std::string_view kProfileAssetsPrefix = "/assets/profiles";   // each profile's kernel + initramfs
inline constexpr std::string_view kMetricsPath = "/metrics";

// The names a profile's boot files are published under.
inline constexpr std::string_view kKernelFileName = "vmlinuz";
inline constexpr std::string_view kInitramfsFileName = "initramfs.xz";

// "http://<server.address>:<httpPort>"
std::string HttpBaseUrl(const ServerConfig& server);

std::string ChainScriptUrl(const ServerConfig& server);                        // …/boot.ipxe
std::string MachineScriptUrl(const ServerConfig& server);                      // …/ipxe (query appended by the caller)
std::string LoaderUrl(const ServerConfig& server, std::string_view file);      // …/assets/<file>
std::string ConfigUrl(const ServerConfig& server, std::string_view token);     // …/config/<token>: a secret

struct ProfileAssetUrls {
  std::string kernel;     // …/assets/profiles/<profile>/vmlinuz
  std::string initramfs;  // …/assets/profiles/<profile>/initramfs.xz
};
ProfileAssetUrls ProfileAssetUrlsFor(const ServerConfig& server, std::string_view profile);

// <stateDir>/assets/profiles: where profiles' boot files are published on disk.
std::string ProfileAssetsDir(const ServerConfig& server);

}  // namespace metalpxe
