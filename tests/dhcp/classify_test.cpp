// DHCP requests read into core's BootClient vocabulary. Which boot file each
// client gets is core's table: tests/provisioning/boot_files_test.cpp.
#include <gtest/gtest.h>

#include "dhcp/classify.h"
#include "tests/dhcp/test_config.h"

namespace metalpxe::dhcp {
namespace {

using namespace testing;

std::string Name(const DhcpMessage& m) { return BootClientName(ClassifyClient(m).client); }

TEST(dhcp_classify, PxeFirmwareByArchType) {
  for (auto [arch, name] : {std::pair{0, "bios-i386"}, {7, "uefi-x86_64"}, {9, "uefi-x86_64"}, {11, "uefi-arm64"}}) {
    auto m = Request(MessageType::kDiscover);
    MakePxe(m, static_cast<std::uint16_t>(arch));
    EXPECT_EQ(Name(m), name) << arch;
    EXPECT_EQ(ClassifyClient(m).client.stage, BootStage::kFirmware);
    EXPECT_EQ(ClassifyClient(m).arch, arch);
  }
}

TEST(dhcp_classify, HttpBootByVendorClassAndArchType) {
  for (auto [arch, name] : {std::pair{16, "uefi-x86_64-http"}, {19, "uefi-arm64-http"}}) {
    auto m = Request(MessageType::kDiscover);
    m.SetString(opt::kVendorClass, "HTTPClient:Arch:000" + std::to_string(arch) + ":UNDI:003001");
    m.SetU16(opt::kClientArch, static_cast<std::uint16_t>(arch));
    EXPECT_EQ(Name(m), name);
    EXPECT_EQ(ClassifyClient(m).client.transport, LoaderTransport::kHttp);
  }
}

TEST(dhcp_classify, IpxeByUserClassOr175) {
  auto a = Request(MessageType::kDiscover);
  MakePxe(a, 7);
  a.SetString(opt::kUserClass, "iPXE");
  EXPECT_EQ(ClassifyClient(a).client.stage, BootStage::kIpxe);
  EXPECT_EQ(Name(a), "uefi-x86_64");

  auto b = Request(MessageType::kDiscover);
  MakePxe(b, 0);
  b.Set(opt::kIpxeEncap, {177, 5, 1, 0, 0, 0, 0});
  EXPECT_EQ(ClassifyClient(b).client.stage, BootStage::kIpxe);

  auto c = Request(MessageType::kDiscover);  // RFC 3004 form
  c.Set(opt::kUserClass, {4, 'i', 'P', 'X', 'E'});
  EXPECT_EQ(ClassifyClient(c).client.stage, BootStage::kIpxe);

  auto d = Request(MessageType::kDiscover);  // a truncated RFC 3004 entry is not iPXE
  d.Set(opt::kUserClass, {9, 'i', 'P', 'X', 'E'});
  EXPECT_NE(ClassifyClient(d).client.stage, BootStage::kIpxe);
}

TEST(dhcp_classify, PlainClientsAreNotBootClients) {
  auto m = Request(MessageType::kDiscover);
  m.SetString(opt::kVendorClass, "udhcp 1.36.1");
  EXPECT_EQ(ClassifyClient(m).client.stage, BootStage::kOs);
  EXPECT_EQ(ClassifyClient(m).vendor_class, "udhcp 1.36.1");
}

TEST(dhcp_classify, UuidAsText) {
  auto m = Request(MessageType::kDiscover);
  m.Set(opt::kClientMachineId, {0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_EQ(ClassifyClient(m).uuid, "12345678-9abc-def0-0102-030405060708");
}

}  // namespace
}  // namespace metalpxe::dhcp
