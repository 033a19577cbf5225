#include "core/boot_client.h"

#include <gtest/gtest.h>

namespace metalpxe {
namespace {

TEST(BootClient, DhcpArchTypesFromRfc4578AndIana) {
  struct Row {
    std::uint16_t type;
    const char* vendor;
    const char* name;
  } rows[] = {
      {0, "PXEClient:Arch:00000:UNDI:002001", "bios-i386"},
      {6, "PXEClient:Arch:00006:UNDI:003016", "uefi-i386"},
      {7, "PXEClient:Arch:00007:UNDI:003016", "uefi-x86_64"},
      {9, "PXEClient:Arch:00009:UNDI:003016", "uefi-x86_64"},
      {10, "PXEClient:Arch:00010:UNDI:003016", "uefi-arm32"},
      {11, "PXEClient:Arch:00011:UNDI:003016", "uefi-arm64"},
      {16, "HTTPClient:Arch:00016:UNDI:003001", "uefi-x86_64-http"},
      {19, "HTTPClient:Arch:00019:UNDI:003001", "uefi-arm64-http"},
  };
  for (const auto& r : rows) {
    const BootClient c = BootClientFromDhcp(r.type, r.vendor, false);
    EXPECT_EQ(BootClientName(c), r.name) << r.type;
    EXPECT_EQ(c.stage, BootStage::kFirmware) << r.type;
  }
}

TEST(BootClient, VendorClassAloneNamesTheArchitecture) {
  EXPECT_EQ(BootClientName(BootClientFromDhcp(std::nullopt, "HTTPClient:Arch:00016:UNDI:003001", false)),
            "uefi-x86_64-http");
  // PXE 2.1 ROMs predate option 93.
  EXPECT_EQ(BootClientName(BootClientFromDhcp(std::nullopt, "PXEClient", false)), "bios-i386");
}

TEST(BootClient, StageSaysWhoAsks) {
  EXPECT_EQ(BootClientFromDhcp(7, "PXEClient:Arch:00007:UNDI:003016", true).stage, BootStage::kIpxe);
  EXPECT_EQ(BootClientFromDhcp(std::nullopt, "", false).stage, BootStage::kOs);
  // An OS may send option 93 (dhclient can be told to): without a boot
  // vendor class it is not a network-boot client.
  EXPECT_EQ(BootClientFromDhcp(7, "udhcp 1.35.0", false).stage, BootStage::kOs);
  EXPECT_EQ(BootClientName(BootClientFromDhcp(std::nullopt, "", false)), "");
}

TEST(BootClient, UnknownArchTypeIsUnknownNotGuessed) {
  const BootClient c = BootClientFromDhcp(42, "PXEClient:Arch:00042:UNDI:003016", false);
  EXPECT_EQ(c.arch, CpuArch::kUnknown);
  EXPECT_EQ(c.firmware, Firmware::kUnknown);
}

TEST(BootClient, IpxeBuildNames) {
  EXPECT_EQ(BootClientName(BootClientFromIpxe("x86_64", "efi")), "uefi-x86_64");
  EXPECT_EQ(BootClientName(BootClientFromIpxe("i386", "pcbios")), "bios-i386");
  EXPECT_EQ(BootClientName(BootClientFromIpxe("arm64", "efi")), "uefi-arm64");
  // Anyone can send the query: nothing but the known words gets through.
  EXPECT_EQ(BootClientName(BootClientFromIpxe("x86\x1b[31m_64", "efi\n")), "");
  EXPECT_EQ(BootClientFromIpxe(std::string(100, 'a'), "efi").arch, CpuArch::kUnknown);
}

TEST(BootClient, RecordedNamesReadBackIncludingEarlierVersions) {
  for (const char* n : {"uefi-x86_64", "bios-i386", "uefi-arm64-http", "uefi-arm64"})
    EXPECT_EQ(BootClientName(ParseBootClientName(n)), n);
  EXPECT_EQ(ParseBootClientName("bios").firmware, Firmware::kBios);
  EXPECT_EQ(ParseBootClientName("efi-x64").firmware, Firmware::kUefi);
  EXPECT_EQ(ParseBootClientName("efi-x64-http").transport, LoaderTransport::kHttp);
  EXPECT_EQ(ParseBootClientName("x86_64-efi").firmware, Firmware::kUefi);
  EXPECT_EQ(ParseBootClientName("i386-pcbios").firmware, Firmware::kBios);
  EXPECT_EQ(ParseBootClientName("arm64-efi").arch, CpuArch::kArm64);
  EXPECT_EQ(ParseBootClientName("").firmware, Firmware::kUnknown);
  EXPECT_EQ(ParseBootClientName("x86_64").firmware, Firmware::kUnknown);  // buildarch alone: both firmwares have it
  EXPECT_EQ(ParseBootClientName("arch-42").firmware, Firmware::kUnknown);
}

}  // namespace
}  // namespace metalpxe
