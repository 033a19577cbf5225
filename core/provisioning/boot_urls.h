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

// TFTP names of the Secure Boot chain (docs/secureboot.md). Debian's signed
// GRUB netboot image has prefix (tftp,<next-server>)/grub and sources
// $prefix/x86_64-efi/grub.cfg if present, else $prefix/grub.cfg (its
// embedded config, read from the image); metalpxe serves the second, which
// sources the machine's own file, named as GRUB's network config search
// names it (grub.cfg-01-<mac with hyphens>). Kernel and initramfs go over
// TFTP too: the signed image has no http module.
inline constexpr std::string_view kGrubConfigPath = "grub/grub.cfg";
inline constexpr std::string_view kGrubMachineConfigPrefix = "grub/grub.cfg-01-";
inline constexpr std::string_view kProfileTftpPrefix = "profiles/";  // + <profile>/vmlinuz, initramfs.xz

std::string GrubMachineConfigPath(const MacAddress& mac);  // grub/grub.cfg-01-aa-bb-cc-dd-ee-ff
std::string ProfileTftpPath(std::string_view profile, std::string_view file);  // profiles/<profile>/<file>

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
