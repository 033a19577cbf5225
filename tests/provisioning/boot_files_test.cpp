// The one boot-file table: every (arch, firmware, transport) row, and no
// client is ever offered a binary it cannot run.
#include "core/provisioning/boot_files.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "core/provisioning/boot_decision.h"

namespace metalpxe {
namespace {

ServerConfig Server() {
  ServerConfig s;
  s.address = *Ipv4Address::Parse("10.66.0.1");
  s.http_port = 8080;
  return s;
}

std::function<bool(std::string_view)> Having(std::set<std::string> files) {
  return [files = std::move(files)](std::string_view f) { return files.count(std::string(f)) > 0; };
}

const auto kDebianIpxe = Having({"undionly.kpxe", "snponly.efi"});
const auto kWithArm64 = Having({"undionly.kpxe", "snponly.efi", "arm64/snponly.efi"});

LoaderChoice Choose(std::uint16_t arch_type, const char* vendor, const std::function<bool(std::string_view)>& files,
                    bool ipxe = false) {
  return ChooseLoader(BootClientFromDhcp(arch_type, vendor, ipxe), Server(), files);
}

TEST(BootFiles, EachFirmwareGetsItsOwnLoader) {
  EXPECT_EQ(Choose(0, "PXEClient:Arch:00000:UNDI:002001", kDebianIpxe).answer->boot_file, "undionly.kpxe");
  for (std::uint16_t a : {7, 9}) {
    const auto c = Choose(a, "PXEClient:Arch:00007:UNDI:003016", kDebianIpxe);
    EXPECT_EQ(c.answer->boot_file, "snponly.efi");
    EXPECT_FALSE(c.answer->http_client);
  }
  EXPECT_EQ(Choose(11, "PXEClient:Arch:00011:UNDI:003016", kWithArm64).answer->boot_file, "arm64/snponly.efi");
}

TEST(BootFiles, HttpBootGetsAFullUrlAndHttpClient) {
  const auto x64 = Choose(16, "HTTPClient:Arch:00016:UNDI:003001", kDebianIpxe);
  EXPECT_EQ(x64.answer->boot_file, "http://10.66.0.1:8080/assets/snponly.efi");
  EXPECT_TRUE(x64.answer->http_client);
  const auto arm = Choose(19, "HTTPClient:Arch:00019:UNDI:003001", kWithArm64);
  EXPECT_EQ(arm.answer->boot_file, "http://10.66.0.1:8080/assets/arm64/snponly.efi");
}

TEST(BootFiles, IpxeGetsTheChainScriptWhateverItRunsOn) {
  for (std::uint16_t a : {0, 7, 11})
    EXPECT_EQ(Choose(a, "PXEClient:Arch:00000:UNDI:002001", kDebianIpxe, true).answer->boot_file,
              "http://10.66.0.1:8080/boot.ipxe");
}

TEST(BootFiles, NeverABinaryOfAnotherArchitecture) {
  // Debian's ipxe has no arm64 build: an arm64 machine gets nothing (and the
  // reason), not the x86 binary it cannot run.
  for (auto [a, v] : {std::pair{11, "PXEClient:Arch:00011:UNDI:003016"}, {19, "HTTPClient:Arch:00019:UNDI:003001"}}) {
    const auto c = Choose(static_cast<std::uint16_t>(a), v, kDebianIpxe);
    EXPECT_FALSE(c.answer.has_value()) << a;
    EXPECT_NE(c.why.find("no arm64/snponly.efi in tftpRoot for uefi arm64"), std::string::npos) << c.why;
  }
  // 32-bit UEFI and arm32: no loader row at all.
  for (auto [a, v] : {std::pair{6, "PXEClient:Arch:00006:UNDI:003016"}, {10, "PXEClient:Arch:00010:UNDI:003016"}}) {
    const auto c = Choose(static_cast<std::uint16_t>(a), v, kWithArm64);
    EXPECT_FALSE(c.answer.has_value()) << a;
    EXPECT_NE(c.why.find("no loader for uefi"), std::string::npos) << c.why;
  }
  // A missing x86 loader is not replaced by another one either.
  EXPECT_FALSE(Choose(0, "PXEClient:Arch:00000:UNDI:002001", Having({"snponly.efi"})).answer.has_value());
}

TEST(BootFiles, EveryRowNamesItsOwnArchitecturesFile) {
  for (const LoaderRow& row : LoaderTable()) {
    const bool arm = row.arch == CpuArch::kArm64 || row.arch == CpuArch::kArm32;
    EXPECT_EQ(arm, std::string_view(row.file).find("arm") != std::string_view::npos) << row.file;
    const bool efi = std::string_view(row.file).ends_with(".efi");
    EXPECT_EQ(efi, row.firmware == Firmware::kUefi) << row.file;
  }
}

TEST(BootFiles, OsClientsAreNotAnswered) {
  EXPECT_FALSE(ChooseLoader(BootClientFromDhcp(std::nullopt, "udhcp 1.36.1", false), Server(), kDebianIpxe)
                   .answer.has_value());
}

TEST(DecideLoader, UnknownMachinesFollowThePolicy) {
  AppConfig cfg;
  cfg.server = Server();
  cfg.profiles["default"].name = "default";
  const BootClient uefi = BootClientFromDhcp(7, "PXEClient:Arch:00007:UNDI:003016", false);
  const MacAddress mac = *MacAddress::Parse("52:54:00:00:00:99");
  cfg.boot.unknown_machines = UnknownMachinePolicy::kIgnore;
  EXPECT_FALSE(DecideLoader(cfg, uefi, mac, MachineState::kDiscovered, kDebianIpxe).answer);
  cfg.boot.unknown_machines = UnknownMachinePolicy::kDiscover;
  EXPECT_TRUE(DecideLoader(cfg, uefi, mac, MachineState::kDiscovered, kDebianIpxe).answer);
  cfg.boot.unknown_machines = UnknownMachinePolicy::kAutoInstall;
  EXPECT_TRUE(DecideLoader(cfg, uefi, mac, MachineState::kDiscovered, kDebianIpxe).answer);
  // An inventory machine gets its loader whatever the policy.
  cfg.boot.unknown_machines = UnknownMachinePolicy::kIgnore;
  auto inv = std::make_shared<Inventory>();
  MachineConfig m;
  m.name = "cp-1";
  m.macs = {mac};
  m.profile = "default";
  inv->machines.push_back(m);
  cfg.inventory = inv;
  EXPECT_TRUE(DecideLoader(cfg, uefi, mac, MachineState::kPendingInstall, kDebianIpxe).answer);
}

}  // namespace
}  // namespace metalpxe
