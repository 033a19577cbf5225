#include "core/provisioning/boot_files.h"

#include <array>

#include "core/provisioning/boot_urls.h"

namespace metalpxe {
namespace {

using enum CpuArch;
using enum LoaderTransport;

// Debian's `ipxe` package ships undionly.kpxe (BIOS, any x86 CPU: it runs in
// real mode) and snponly.efi (x86_64 UEFI, through the firmware's own network
// driver). It has no 32-bit UEFI or arm64 build; an arm64 iPXE placed at
// tftpRoot/arm64/ipxe.efi is served to arm64 UEFI clients.
constexpr std::array kTable{
    LoaderRow{kI386, Firmware::kBios, kTftp, "undionly.kpxe", false},
    LoaderRow{kX86_64, Firmware::kBios, kTftp, "undionly.kpxe", false},
    LoaderRow{kX86_64, Firmware::kUefi, kTftp, "snponly.efi", true},
    LoaderRow{kX86_64, Firmware::kUefi, kHttp, "snponly.efi", true},
    LoaderRow{kArm64, Firmware::kUefi, kTftp, "arm64/ipxe.efi", true},
    LoaderRow{kArm64, Firmware::kUefi, kHttp, "arm64/ipxe.efi", true},
    // Secure Boot: shim, then GRUB from the same directory (shim's default
    // second stage is grubx64.efi), which reads its per-MAC config, kernel
    // and initramfs over TFTP. Debian's signed GRUB netboot image has no
    // http module and cannot start from UEFI HTTP boot (docs/arm64.md,
    // measured), so there is no HTTP row: an HTTP-boot client marked
    // secureBoot is offered nothing, with the reason.
    LoaderRow{kX86_64, Firmware::kUefi, kTftp, kShimFile, false, SecureBootChain::kShim, kSignedGrubFile},
    // Talos's own Secure Boot path: the profile's signed UKI (kernel,
    // initramfs and command line in one PE), started by the firmware, which
    // verifies it against db. UEFI HTTP boot downloads it from its URL; PXE
    // fetches it over TFTP. Nothing unsigned in between (iPXE could `chain`
    // it, as Image Factory's PXE script does, but an unsigned iPXE does not
    // start under Secure Boot). Its config comes by apply (maintenance mode).
    LoaderRow{kX86_64, Firmware::kUefi, kHttp, kUkiFileName, true, SecureBootChain::kUki, {}, true},
    LoaderRow{kX86_64, Firmware::kUefi, kTftp, kUkiFileName, true, SecureBootChain::kUki, {}, true},
    LoaderRow{kArm64, Firmware::kUefi, kHttp, kUkiFileName, true, SecureBootChain::kUki, {}, true},
    LoaderRow{kArm64, Firmware::kUefi, kTftp, kUkiFileName, true, SecureBootChain::kUki, {}, true},
};

std::string LoaderClientText(const BootClient& c) {
  std::string s = std::string(FirmwareName(c.firmware)) + " " + std::string(CpuArchName(c.arch));
  if (c.transport == kHttp) s += " (HTTP boot)";
  if (c.family == IpFamily::kIpv6) s += " over IPv6";
  return s;
}

std::string LoaderClientText(const BootClient& c, SecureBootChain chain) {
  switch (chain) {
    case SecureBootChain::kNone: return LoaderClientText(c);
    case SecureBootChain::kShim: return LoaderClientText(c) + " under Secure Boot";
    case SecureBootChain::kUki: return LoaderClientText(c) + " under Secure Boot (UKI)";
  }
  return LoaderClientText(c);
}

}  // namespace

std::span<const LoaderRow> LoaderTable() { return kTable; }

std::optional<std::string_view> DebianSignedFile(std::string_view name) {
  if (name == kShimFile) return "/usr/lib/shim/shimx64.efi.signed";
  if (name == kSignedGrubFile) return "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed";
  return std::nullopt;
}

LoaderChoice ChooseLoader(const BootClient& client, const ServerConfig& server,
                          const std::function<bool(std::string_view)>& loader_exists, SecureBootChain chain,
                          std::string_view profile) {
  if (client.stage == BootStage::kOs) return {std::nullopt, "not a network-boot client"};
  const bool v6 = client.family == IpFamily::kIpv6;
  if (v6 && !server.address6) return {std::nullopt, "IPv6 client but server.address6 is not set"};
  if (client.stage == BootStage::kIpxe)
    return {LoaderAnswer{ChainScriptUrl(server, client.family), false}, "iPXE: chain script"};
  for (const LoaderRow& row : kTable) {
    if (row.arch != client.arch || row.firmware != client.firmware || row.transport != client.transport ||
        row.chain != chain)
      continue;
    const std::string who = LoaderClientText(client, chain);
    if (v6 && !row.ipv6) break;
    if (row.profile_file && profile.empty())
      return {std::nullopt, "no profile to take " + std::string(row.file) + " from for " + who};
    const std::string file = row.profile_file ? ProfileTftpPath(profile, row.file) : std::string(row.file);
    if (!loader_exists(file))
      return {std::nullopt, "no " + file + (row.profile_file ? " published" : " in tftpRoot") + " for " + who};
    if (!row.next.empty() && !loader_exists(row.next))
      return {std::nullopt, "no " + std::string(row.next) + " in tftpRoot for " + who};
    if (row.transport == kHttp) {
      const std::string url = row.profile_file ? ProfileAssetUrlsFor(server, profile, client.family).uki
                                               : LoaderUrl(server, row.file, client.family);
      return {LoaderAnswer{url, true}, who};
    }
    if (v6) return {LoaderAnswer{TftpUrl(server, file), false}, who};
    return {LoaderAnswer{file, false}, who};
  }
  return {std::nullopt, "no loader for " + LoaderClientText(client, chain)};
}

std::optional<std::string> InstallerArchMismatch(std::string_view profile_arch, const BootClient& client) {
  if (client.arch == CpuArch::kUnknown) return std::nullopt;
  const bool runs = profile_arch == "amd64"   ? client.arch == kX86_64 || client.arch == kI386
                    : profile_arch == "arm64" ? client.arch == kArm64
                                              : false;
  if (runs) return std::nullopt;
  return "the profile's kernel is " + std::string(profile_arch) + ", this machine runs " + LoaderClientText(client);
}

}  // namespace metalpxe
