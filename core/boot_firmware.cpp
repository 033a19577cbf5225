#include "core/boot_firmware.h"

namespace metalpxe {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// iPXE fills these in, but anyone on the network can send the query: keep
// what a build name can hold, bounded, so listings show no control bytes.
void AppendNameChars(std::string& out, std::string_view in) {
  for (char c : in) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-' || c == '.';
    if (ok) out += c;
  }
}

}  // namespace

BootFirmware FirmwareFromArch(std::string_view arch) {
  if (arch == "bios" || EndsWith(arch, "-pcbios")) return BootFirmware::kBios;
  if (arch.rfind("efi-", 0) == 0 || EndsWith(arch, "-efi")) return BootFirmware::kUefi;
  return BootFirmware::kUnknown;
}

std::string IpxeArchName(std::string_view buildarch, std::string_view platform) {
  std::string name;
  AppendNameChars(name, buildarch);
  if (!platform.empty() && !name.empty()) name += '-';
  AppendNameChars(name, platform);
  if (name.size() > 32) name.resize(32);
  return name;
}

}  // namespace metalpxe
