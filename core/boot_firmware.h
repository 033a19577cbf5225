// Which firmware a machine network-boots with, from what metalpxe saw of it:
// DHCP option 93 names ("bios", "efi-x64", …) or iPXE's own "<buildarch>-
// <platform>" ("x86_64-efi", "i386-pcbios"), as kept in MachineRecord::arch.
// A BMC's "next boot from network" must match it: a UEFI-only server told to
// PXE in legacy mode (or the reverse) boots nothing.
#pragma once

#include <string>
#include <string_view>

namespace metalpxe {

enum class BootFirmware { kUnknown, kBios, kUefi };

BootFirmware FirmwareFromArch(std::string_view arch);

// The arch string to keep for an iPXE request: "<buildarch>-<platform>" when
// iPXE said its platform (its own build names: bin-x86_64-efi), else buildarch;
// only [A-Za-z0-9_.-], at most 32 characters (the query is anyone's to send).
std::string IpxeArchName(std::string_view buildarch, std::string_view platform);

}  // namespace metalpxe
