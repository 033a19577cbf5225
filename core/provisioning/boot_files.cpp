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
    LoaderRow{kI386, Firmware::kBios, kTftp, "undionly.kpxe"},
    LoaderRow{kX86_64, Firmware::kBios, kTftp, "undionly.kpxe"},
    LoaderRow{kX86_64, Firmware::kUefi, kTftp, "snponly.efi"},
    LoaderRow{kX86_64, Firmware::kUefi, kHttp, "snponly.efi"},
    LoaderRow{kArm64, Firmware::kUefi, kTftp, "arm64/ipxe.efi"},
    LoaderRow{kArm64, Firmware::kUefi, kHttp, "arm64/ipxe.efi"},
};

std::string LoaderClientText(const BootClient& c) {
  std::string s = std::string(FirmwareName(c.firmware)) + " " + std::string(CpuArchName(c.arch));
  if (c.transport == kHttp) s += " (HTTP boot)";
  return s;
}

}  // namespace

std::span<const LoaderRow> LoaderTable() { return kTable; }

LoaderChoice ChooseLoader(const BootClient& client, const ServerConfig& server,
                          const std::function<bool(std::string_view)>& loader_exists) {
  if (client.stage == BootStage::kOs) return {std::nullopt, "not a network-boot client"};
  if (client.stage == BootStage::kIpxe) return {LoaderAnswer{ChainScriptUrl(server), false}, "iPXE: chain script"};
  for (const LoaderRow& row : kTable) {
    if (row.arch != client.arch || row.firmware != client.firmware || row.transport != client.transport) continue;
    if (!loader_exists(row.file))
      return {std::nullopt, "no " + std::string(row.file) + " in tftpRoot for " + LoaderClientText(client)};
    if (row.transport == kHttp) return {LoaderAnswer{LoaderUrl(server, row.file), true}, LoaderClientText(client)};
    return {LoaderAnswer{std::string(row.file), false}, LoaderClientText(client)};
  }
  return {std::nullopt, "no loader for " + LoaderClientText(client)};
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
