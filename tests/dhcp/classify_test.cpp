#include <gtest/gtest.h>

#include "dhcp/classify.h"
#include "tests/dhcp/test_config.h"

namespace metalpxe::dhcp {
namespace {

using namespace testing;

bool NoFiles(std::string_view) { return false; }
bool AllFiles(std::string_view) { return true; }

std::optional<BootAnswer> Boot(const DhcpMessage& m, bool known = true, bool files = false,
                               UnknownMachinePolicy policy = UnknownMachinePolicy::kDiscover) {
  auto c = MakeConfig();
  c->boot.unknown_machines = policy;
  return ChooseBootFile(ClassifyClient(m), *c, known, files ? AllFiles : NoFiles);
}

TEST(dhcp_classify, BiosGetsUndionly) {
  auto m = Request(MessageType::kDiscover);
  MakePxe(m, 0);
  EXPECT_EQ(ClassifyClient(m).kind, ClientKind::kBiosPxe);
  EXPECT_EQ(Boot(m)->boot_file, "undionly.kpxe");
  EXPECT_FALSE(Boot(m)->http_client);
}

TEST(dhcp_classify, UefiX64GetsSnponly) {
  for (std::uint16_t arch : {7, 9}) {
    auto m = Request(MessageType::kDiscover);
    MakePxe(m, arch);
    EXPECT_EQ(ClassifyClient(m).kind, ClientKind::kUefiX64);
    EXPECT_EQ(Boot(m)->boot_file, "snponly.efi");
  }
}

TEST(dhcp_classify, UefiArm64GetsArm64FileWhenPresent) {
  auto m = Request(MessageType::kDiscover);
  MakePxe(m, 11);
  EXPECT_EQ(ClassifyClient(m).kind, ClientKind::kUefiArm64);
  EXPECT_EQ(Boot(m, true, true)->boot_file, "arm64/snponly.efi");
  EXPECT_EQ(Boot(m, true, false)->boot_file, "snponly.efi");
}

TEST(dhcp_classify, HttpBootGetsFullUrlAndHttpClient) {
  for (std::uint16_t arch : {16, 19}) {
    auto m = Request(MessageType::kDiscover);
    m.SetString(opt::kVendorClass, "HTTPClient:Arch:00016:UNDI:003001");
    m.SetU16(opt::kClientArch, arch);
    EXPECT_EQ(ClassifyClient(m).kind, ClientKind::kUefiHttp);
    auto b = Boot(m);
    EXPECT_TRUE(b->http_client);
    EXPECT_EQ(b->boot_file, "http://10.66.0.1:8080/assets/snponly.efi");
  }
}

TEST(dhcp_classify, IpxeByUserClassOr175GetsChainUrl) {
  auto a = Request(MessageType::kDiscover);
  MakePxe(a, 7);
  a.SetString(opt::kUserClass, "iPXE");
  EXPECT_EQ(ClassifyClient(a).kind, ClientKind::kIpxe);
  EXPECT_EQ(Boot(a)->boot_file, "http://10.66.0.1:8080/boot.ipxe");

  auto b = Request(MessageType::kDiscover);
  MakePxe(b, 0);
  b.Set(opt::kIpxeEncap, {177, 5, 1, 0, 0, 0, 0});
  EXPECT_TRUE(ClassifyClient(b).is_ipxe);
  EXPECT_EQ(Boot(b)->boot_file, "http://10.66.0.1:8080/boot.ipxe");

  auto c = Request(MessageType::kDiscover);  // RFC 3004 form
  c.Set(opt::kUserClass, {4, 'i', 'P', 'X', 'E'});
  EXPECT_TRUE(ClassifyClient(c).is_ipxe);
}

TEST(dhcp_classify, PlainClientsGetNoBootFile) {
  auto m = Request(MessageType::kDiscover);
  m.SetString(opt::kVendorClass, "udhcp 1.36.1");
  EXPECT_EQ(ClassifyClient(m).kind, ClientKind::kNotPxe);
  EXPECT_FALSE(Boot(m).has_value());
}

TEST(dhcp_classify, UnknownMachinesFollowPolicy) {
  auto m = Request(MessageType::kDiscover);
  MakePxe(m, 7);
  EXPECT_FALSE(Boot(m, false, false, UnknownMachinePolicy::kIgnore).has_value());
  EXPECT_TRUE(Boot(m, true, false, UnknownMachinePolicy::kIgnore).has_value());
  EXPECT_TRUE(Boot(m, false, false, UnknownMachinePolicy::kDiscover).has_value());
  EXPECT_TRUE(Boot(m, false, false, UnknownMachinePolicy::kAutoInstall).has_value());
}

TEST(dhcp_classify, UuidAsText) {
  auto m = Request(MessageType::kDiscover);
  m.Set(opt::kClientMachineId, {0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_EQ(ClassifyClient(m).uuid, "12345678-9abc-def0-0102-030405060708");
}

}  // namespace
}  // namespace metalpxe::dhcp
