#pragma once
// One vocabulary for "what is network-booting": the machine's CPU
// architecture, its firmware, how its firmware fetches the first loader, and
// which program is asking (the firmware, iPXE, or an operating system's own
// DHCP client). DHCP classification, the /ipxe request, the boot-file table,
// the machine record and a BMC's "next boot from network" all speak it, so a
// machine seen booting UEFI on arm64 is that everywhere.
//
// Sources: RFC 4578 and IANA "Processor Architecture Types" (DHCP option 93),
// UEFI 2.x "HTTP Boot" (option 60 "HTTPClient"), iPXE's ${buildarch} and
// ${platform} settings.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace metalpxe {

enum class CpuArch { kUnknown, kX86_64, kI386, kArm64, kArm32 };
enum class Firmware { kUnknown, kBios, kUefi };
// How the firmware fetches its first loader.
enum class LoaderTransport { kTftp, kHttp };
// Which program sent the request.
enum class BootStage {
  kOs,        // a plain DHCP client: an OS, the installer's own DHCP
  kFirmware,  // the firmware's PXE or HTTP-boot client
  kIpxe,      // iPXE, whether loaded by us or flashed in the NIC's ROM
};
// Which IP version the request came over (DHCPv4 or DHCPv6): every URL the
// client is handed names metalpxe by an address of that family.
enum class IpFamily { kIpv4, kIpv6 };

struct BootClient {
  BootStage stage = BootStage::kOs;
  CpuArch arch = CpuArch::kUnknown;
  Firmware firmware = Firmware::kUnknown;
  LoaderTransport transport = LoaderTransport::kTftp;
  IpFamily family = IpFamily::kIpv4;

  bool operator==(const BootClient&) const = default;
};

std::string_view CpuArchName(CpuArch a);        // "x86_64" | "i386" | "arm64" | "arm32" | "unknown"
std::string_view FirmwareName(Firmware f);      // "bios" | "uefi" | "unknown"
std::string_view BootStageName(BootStage s);    // "os" | "firmware" | "ipxe"

// The DHCP view: option 93's first value, option 60 as sent, and whether the
// request came from iPXE (user class 77 "iPXE" or option 175).
BootClient BootClientFromDhcp(std::optional<std::uint16_t> arch_type, std::string_view vendor_class, bool ipxe);

// The /ipxe view: iPXE's ${buildarch} ("x86_64", "i386", "arm64", "arm32")
// and ${platform} ("efi", "pcbios").
BootClient BootClientFromIpxe(std::string_view buildarch, std::string_view platform);

// The name kept on the machine record and shown to operators:
// "<firmware>-<arch>" ("uefi-x86_64", "bios-i386", "uefi-arm64"), with
// "-http" for UEFI HTTP boot; "" when nothing is known.
std::string BootClientName(const BootClient& c);

// Reads a recorded name back: this module's own names and the ones earlier
// versions stored ("bios", "efi-x64", "efi-arm64-http", iPXE's
// "x86_64-efi" and "i386-pcbios"). Unknown text gives an unknown client.
BootClient ParseBootClientName(std::string_view name);

}  // namespace metalpxe
