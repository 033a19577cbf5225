#pragma once
// Where machines reach metalpxe over HTTP and the layout of what it serves
// there, said once: the DHCP answer (HTTP boot, iPXE's chain URL), the iPXE
// scripts, the Talos kernel arguments, the Hetzner kexec path and the HTTP
// server's routes all build their URLs and paths here.
#include <optional>
#include <string>
#include <string_view>

#include "core/boot_client.h"
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
// secureBoot uki: the profile's signed UKI (Image Factory's
// metal-<arch>-secureboot-uki.efi, or the profile's own file), started by
// the firmware itself (UEFI HTTP boot over HTTP, PXE over TFTP).
inline constexpr std::string_view kUkiFileName = "secureboot-uki.efi";

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

// "http://<server.address>:<httpPort>", or over IPv6
// "http://[<server.address6>]:<httpPort>" (RFC 3986 IP-literal). Without
// server.address6 the IPv4 form is given either way.
std::string HttpBaseUrl(const ServerConfig& server, IpFamily family = IpFamily::kIpv4);

std::string ChainScriptUrl(const ServerConfig& server, IpFamily family = IpFamily::kIpv4);    // …/boot.ipxe
std::string MachineScriptUrl(const ServerConfig& server, IpFamily family = IpFamily::kIpv4);  // …/ipxe (query appended by the caller)
std::string LoaderUrl(const ServerConfig& server, std::string_view file,
                      IpFamily family = IpFamily::kIpv4);  // …/assets/<file>
std::string ConfigUrl(const ServerConfig& server, std::string_view token,
                      IpFamily family = IpFamily::kIpv4);  // …/config/<token>: a secret
// DHCPv6 names even a TFTP file by URL (RFC 5970 §3.1):
// "tftp://[<server.address6>]/<file>" (":<tftpPort>" when not 69).
std::string TftpUrl(const ServerConfig& server, std::string_view file);

struct ProfileAssetUrls {
  std::string kernel;     // …/assets/profiles/<profile>/vmlinuz
  std::string initramfs;  // …/assets/profiles/<profile>/initramfs.xz
  std::string uki;        // …/assets/profiles/<profile>/secureboot-uki.efi (secureBoot uki)
};
ProfileAssetUrls ProfileAssetUrlsFor(const ServerConfig& server, std::string_view profile,
                                     IpFamily family = IpFamily::kIpv4);

// The profile whose UKI a fetched path is: "/assets/profiles/<p>/secureboot-uki.efi"
// (HTTP) or "profiles/<p>/secureboot-uki.efi" (TFTP, with or without a
// leading '/'); nullopt for every other path.
std::optional<std::string> UkiProfileOf(std::string_view path);

// The host machines reach metalpxe by in `family`: "10.66.0.1" or "[fd00:66::1]".
std::string ServerHost(const ServerConfig& server, IpFamily family);

// <stateDir>/assets/profiles: where profiles' boot files are published on disk.
std::string ProfileAssetsDir(const ServerConfig& server);

}  // namespace metalpxe
