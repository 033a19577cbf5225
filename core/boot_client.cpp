#include "core/boot_client.h"

#include <charconv>

namespace metalpxe {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

struct ArchType {
  CpuArch arch;
  Firmware firmware;
  LoaderTransport transport;
};

// IANA "Processor Architecture Types" (RFC 4578 section 2.1 and later
// registrations), the values a network-booting machine actually sends.
std::optional<ArchType> FromArchType(std::uint16_t type) {
  using enum CpuArch;
  switch (type) {
    case 0: return ArchType{kI386, Firmware::kBios, LoaderTransport::kTftp};
    case 6: return ArchType{kI386, Firmware::kUefi, LoaderTransport::kTftp};
    case 7:
    case 9:  // "EBC": what many x64 firmwares send by mistake (RFC 4578 errata)
      return ArchType{kX86_64, Firmware::kUefi, LoaderTransport::kTftp};
    case 10: return ArchType{kArm32, Firmware::kUefi, LoaderTransport::kTftp};
    case 11: return ArchType{kArm64, Firmware::kUefi, LoaderTransport::kTftp};
    case 15: return ArchType{kI386, Firmware::kUefi, LoaderTransport::kHttp};
    case 16: return ArchType{kX86_64, Firmware::kUefi, LoaderTransport::kHttp};
    case 18: return ArchType{kArm32, Firmware::kUefi, LoaderTransport::kHttp};
    case 19: return ArchType{kArm64, Firmware::kUefi, LoaderTransport::kHttp};
    case 20: return ArchType{kI386, Firmware::kBios, LoaderTransport::kHttp};
    default: return std::nullopt;
  }
}

// "PXEClient:Arch:00007:UNDI:003016" -> 7
std::optional<std::uint16_t> ArchFromVendorClass(std::string_view vc) {
  const auto at = vc.find(":Arch:");
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view digits = vc.substr(at + 6, 5);
  std::uint16_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || end == digits.data()) return std::nullopt;
  return v;
}

CpuArch CpuArchFromName(std::string_view s) {
  if (s == "x86_64") return CpuArch::kX86_64;
  if (s == "i386") return CpuArch::kI386;
  if (s == "arm64") return CpuArch::kArm64;
  if (s == "arm32") return CpuArch::kArm32;
  return CpuArch::kUnknown;
}

}  // namespace

std::string_view CpuArchName(CpuArch a) {
  switch (a) {
    case CpuArch::kX86_64: return "x86_64";
    case CpuArch::kI386: return "i386";
    case CpuArch::kArm64: return "arm64";
    case CpuArch::kArm32: return "arm32";
    case CpuArch::kUnknown: break;
  }
  return "unknown";
}

std::string_view FirmwareName(Firmware f) {
  switch (f) {
    case Firmware::kBios: return "bios";
    case Firmware::kUefi: return "uefi";
    case Firmware::kUnknown: break;
  }
  return "unknown";
}

std::string_view BootStageName(BootStage s) {
  switch (s) {
    case BootStage::kOs: return "os";
    case BootStage::kFirmware: return "firmware";
    case BootStage::kIpxe: return "ipxe";
  }
  return "os";
}

BootClient BootClientFromDhcp(std::optional<std::uint16_t> arch_type, std::string_view vendor_class, bool ipxe) {
  BootClient c;
  const bool pxe_vendor = StartsWith(vendor_class, "PXEClient");
  const bool http_vendor = StartsWith(vendor_class, "HTTPClient");
  if (!arch_type && (pxe_vendor || http_vendor)) arch_type = ArchFromVendorClass(vendor_class);
  if (arch_type) {
    if (auto t = FromArchType(*arch_type)) {
      c.arch = t->arch;
      c.firmware = t->firmware;
      c.transport = t->transport;
    }
  } else if (pxe_vendor) {
    // PXEClient without option 93: old BIOS option ROMs (PXE 2.1 predates it).
    c.arch = CpuArch::kI386;
    c.firmware = Firmware::kBios;
  }
  // The vendor class says HTTP even where the arch type is a PXE one.
  if (http_vendor) {
    c.transport = LoaderTransport::kHttp;
    if (c.firmware == Firmware::kUnknown) c.firmware = Firmware::kUefi;
  }
  if (ipxe)
    c.stage = BootStage::kIpxe;
  else if (pxe_vendor || http_vendor)
    c.stage = BootStage::kFirmware;
  return c;
}

BootClient BootClientFromIpxe(std::string_view buildarch, std::string_view platform) {
  BootClient c;
  c.stage = BootStage::kIpxe;
  c.arch = CpuArchFromName(buildarch);
  if (platform == "efi") c.firmware = Firmware::kUefi;
  if (platform == "pcbios") c.firmware = Firmware::kBios;
  return c;
}

std::string BootClientName(const BootClient& c) {
  if (c.firmware == Firmware::kUnknown && c.arch == CpuArch::kUnknown) return "";
  std::string name(FirmwareName(c.firmware));
  name += '-';
  name += CpuArchName(c.arch);
  if (c.transport == LoaderTransport::kHttp) name += "-http";
  return name;
}

BootClient ParseBootClientName(std::string_view name) {
  BootClient c;
  // Names written by earlier versions (DHCP option 93 in words, and iPXE's
  // "<buildarch>-<platform>").
  if (name == "bios") name = "bios-i386";
  if (name == "efi-x64") name = "uefi-x86_64";
  if (name == "efi-ia32") name = "uefi-i386";
  if (name == "efi-arm32") name = "uefi-arm32";
  if (name == "efi-arm64") name = "uefi-arm64";
  if (name == "efi-x64-http") name = "uefi-x86_64-http";
  if (name == "efi-arm64-http") name = "uefi-arm64-http";
  if (EndsWith(name, "-efi")) return BootClientFromIpxe(name.substr(0, name.size() - 4), "efi");
  if (EndsWith(name, "-pcbios")) return BootClientFromIpxe(name.substr(0, name.size() - 7), "pcbios");
  if (EndsWith(name, "-http")) {
    c.transport = LoaderTransport::kHttp;
    name.remove_suffix(5);
  }
  const auto dash = name.find('-');
  if (dash == std::string_view::npos) return c;
  const std::string_view fw = name.substr(0, dash);
  if (fw == "bios") c.firmware = Firmware::kBios;
  if (fw == "uefi") c.firmware = Firmware::kUefi;
  c.arch = CpuArchFromName(name.substr(dash + 1));
  return c;
}

}  // namespace metalpxe
