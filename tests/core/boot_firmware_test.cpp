#include "core/boot_firmware.h"

#include <gtest/gtest.h>

namespace metalpxe {
namespace {

TEST(BootFirmware, DhcpArchNames) {
  EXPECT_EQ(FirmwareFromArch("bios"), BootFirmware::kBios);
  EXPECT_EQ(FirmwareFromArch("efi-x64"), BootFirmware::kUefi);
  EXPECT_EQ(FirmwareFromArch("efi-x64-http"), BootFirmware::kUefi);
  EXPECT_EQ(FirmwareFromArch("efi-arm64"), BootFirmware::kUefi);
}

TEST(BootFirmware, IpxeBuildNames) {
  EXPECT_EQ(FirmwareFromArch("x86_64-efi"), BootFirmware::kUefi);
  EXPECT_EQ(FirmwareFromArch("i386-pcbios"), BootFirmware::kBios);
  EXPECT_EQ(FirmwareFromArch("arm64-efi"), BootFirmware::kUefi);
}

TEST(BootFirmware, UnknownWhenNothingSaysSo) {
  EXPECT_EQ(FirmwareFromArch(""), BootFirmware::kUnknown);
  EXPECT_EQ(FirmwareFromArch("x86_64"), BootFirmware::kUnknown);  // buildarch alone: both firmwares have it
  EXPECT_EQ(FirmwareFromArch("arch-42"), BootFirmware::kUnknown);
}

TEST(BootFirmware, IpxeArchNameJoinsAndCleans) {
  EXPECT_EQ(IpxeArchName("x86_64", "efi"), "x86_64-efi");
  EXPECT_EQ(IpxeArchName("i386", "pcbios"), "i386-pcbios");
  EXPECT_EQ(IpxeArchName("x86_64", ""), "x86_64");
  EXPECT_EQ(IpxeArchName("", "efi"), "efi");
  EXPECT_EQ(IpxeArchName("x86\x1b[31m_64", "efi\n"), "x8631m_64-efi");
  EXPECT_EQ(IpxeArchName(std::string(100, 'a'), "efi").size(), 32u);
}

}  // namespace
}  // namespace metalpxe
