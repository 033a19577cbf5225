#pragma once
// Which first-stage loader a network-booting client is offered: one table
// over (CPU architecture, firmware, transport), with the stage that asks
// (firmware, iPXE) deciding between the loader and the chain script. A
// client is never offered a binary of another architecture or firmware: a
// row whose file is missing from tftpRoot answers "no boot file" with the
// reason, which the machine's DHCP timeline entry records (`why=`): the e2e
// scenario arm64-no-loader checks it with real arm64 firmware.
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/boot_client.h"
#include "core/config.h"

namespace metalpxe {

struct LoaderRow {
  CpuArch arch;
  Firmware firmware;
  LoaderTransport transport;
  std::string_view file;  // relative to tftpRoot (served over TFTP, and over HTTP under /assets)
  bool ipv6 = false;      // also offered over DHCPv6 (UEFI's PXEv6/HTTPv6); BIOS PXE has no IPv6
  // Rows for machines marked secureBoot: the firmware refuses unsigned
  // binaries. `shim`: Microsoft-signed shim, which loads `next` (the
  // Debian-signed GRUB netboot image) from the same TFTP directory. `uki`:
  // the profile's signed Talos UKI, started by the firmware itself.
  SecureBootChain chain = SecureBootChain::kNone;
  std::string_view next = {};  // a second file the row needs in tftpRoot ("" = none)
  // `file` is the machine's profile's (profiles/<profile>/<file>, published
  // from the profile's assets), not a tftpRoot loader.
  bool profile_file = false;
};

// The table itself, for documentation and tests.
std::span<const LoaderRow> LoaderTable();

struct LoaderAnswer {
  // A TFTP file name, or a full URL (HTTP boot, iPXE). Over IPv6 always a URL
  // with an IPv6 literal (DHCPv6 option 59): tftp://[addr]/file, http://[addr]:port/…
  std::string boot_file;
  bool http_client = false;  // answer with option 60 "HTTPClient" (UEFI HTTP boot)
};

struct LoaderChoice {
  std::optional<LoaderAnswer> answer;  // nullopt: no boot file for this client
  std::string why;                     // for logs and the machine's history
};

// `loader_exists(file)` asks whether tftpRoot holds `file` (I/O kept out);
// a profile's file is asked as "profiles/<profile>/<file>".
// Only boot clients (firmware, iPXE) are asked about; an OS client gets nullopt.
// `chain`: the machine's signed path (only its rows apply); `profile`: the
// profile it installs with (the UKI rows hand that profile's UKI).
LoaderChoice ChooseLoader(const BootClient& client, const ServerConfig& server,
                          const std::function<bool(std::string_view)>& loader_exists,
                          SecureBootChain chain = SecureBootChain::kNone, std::string_view profile = {});

// Names of the signed chain over TFTP. A copy in tftpRoot is served when
// there is one; else the files Debian's packages install (shim-signed,
// grub-efi-amd64-signed: the GRUB netboot image, which shim loads as
// grubx64.efi), so the chain follows Debian's security updates.
inline constexpr std::string_view kShimFile = "shimx64.efi";
inline constexpr std::string_view kSignedGrubFile = "grubx64.efi";
// The Debian file served under `name` when tftpRoot has none; nullopt for
// every other name.
std::optional<std::string_view> DebianSignedFile(std::string_view name);

// The second binary a machine is handed: the profile's kernel, served by
// /ipxe to iPXE running on the machine. A profile's `arch` ("amd64",
// "arm64") must be one the client's CPU runs; nullopt when it is, or when
// the client does not say (iPXE builds before ${buildarch}), else the reason
// it is not offered. iPXE's i386 build (undionly.kpxe) runs on 64-bit PCs
// too, so an amd64 kernel is offered to it.
std::optional<std::string> InstallerArchMismatch(std::string_view profile_arch, const BootClient& client);

}  // namespace metalpxe
