// The one boot-file table: every (arch, firmware, transport) row, and no
// client is ever offered a binary it cannot run.
#include "core/provisioning/boot_files.h"

#include <cstdio>
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
const auto kWithArm64 = Having({"undionly.kpxe", "snponly.efi", "arm64/ipxe.efi"});

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
  EXPECT_EQ(Choose(11, "PXEClient:Arch:00011:UNDI:003016", kWithArm64).answer->boot_file, "arm64/ipxe.efi");
}

TEST(BootFiles, HttpBootGetsAFullUrlAndHttpClient) {
  const auto x64 = Choose(16, "HTTPClient:Arch:00016:UNDI:003001", kDebianIpxe);
  EXPECT_EQ(x64.answer->boot_file, "http://10.66.0.1:8080/assets/snponly.efi");
  EXPECT_TRUE(x64.answer->http_client);
  const auto arm = Choose(19, "HTTPClient:Arch:00019:UNDI:003001", kWithArm64);
  EXPECT_EQ(arm.answer->boot_file, "http://10.66.0.1:8080/assets/arm64/ipxe.efi");
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
    EXPECT_NE(c.why.find("no arm64/ipxe.efi in tftpRoot for uefi arm64"), std::string::npos) << c.why;
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


// Every (option 93 arch, who asks, how it fetches) pair a network-booting
// machine sends, with the answer written out by hand rather than derived from
// the table: firmware PXE (PXEClient), firmware HTTP boot (HTTPClient), iPXE.
// "-" is no boot file. Two appliances: Debian's ipxe package only, and one
// with an arm64 iPXE build at tftpRoot/arm64/ipxe.efi.
struct PairCase {
  std::uint16_t arch;
  const char* firmware;  // what a firmware client of that arch is
  const char* pxe;       // PXEClient, Debian's ipxe only / with arm64 iPXE
  const char* pxe_arm;
  const char* http;      // HTTPClient (full URL, option 60 HTTPClient back)
  const char* http_arm;
};

constexpr const char* kUrl = "http://10.66.0.1:8080/assets/";
constexpr PairCase kPairs[] = {
    {0, "bios-i386", "undionly.kpxe", "undionly.kpxe", "-", "-"},  // 0 + HTTPClient: BIOS HTTP, no loader
    {6, "uefi-i386", "-", "-", "-", "-"},                            // 32-bit UEFI: no iPXE build
    {7, "uefi-x86_64", "snponly.efi", "snponly.efi", "snponly.efi", "snponly.efi"},
    {9, "uefi-x86_64", "snponly.efi", "snponly.efi", "snponly.efi", "snponly.efi"},
    {10, "uefi-arm32", "-", "-", "-", "-"},
    {11, "uefi-arm64", "-", "arm64/ipxe.efi", "-", "arm64/ipxe.efi"},
    {15, "uefi-i386-http", "-", "-", "-", "-"},
    {16, "uefi-x86_64-http", "snponly.efi", "snponly.efi", "snponly.efi", "snponly.efi"},
    {18, "uefi-arm32-http", "-", "-", "-", "-"},
    {19, "uefi-arm64-http", "-", "arm64/ipxe.efi", "-", "arm64/ipxe.efi"},
};

std::string VendorFor(const char* kind, std::uint16_t arch) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s:Arch:%05u:UNDI:003016", kind, static_cast<unsigned>(arch));
  return buf;
}

TEST(BootFilesEveryPair, FirmwareAndIpxeOverPxeAndHttp) {
  for (const PairCase& p : kPairs) {
    for (bool arm : {false, true}) {
      const auto& files = arm ? kWithArm64 : kDebianIpxe;
      for (const char* kind : {"PXEClient", "HTTPClient"}) {
        const bool http_vendor = std::string_view(kind) == "HTTPClient";
        const std::string vendor = VendorFor(kind, p.arch);
        SCOPED_TRACE("arch " + std::to_string(p.arch) + " " + vendor + (arm ? " with arm64 iPXE" : " Debian ipxe"));
        const BootClient firmware = BootClientFromDhcp(p.arch, vendor, false);
        EXPECT_EQ(firmware.stage, BootStage::kFirmware);
        // What the firmware is: the arch type decides; HTTPClient adds -http.
        std::string name = p.firmware;
        if (http_vendor && !name.ends_with("-http")) name += "-http";
        EXPECT_EQ(BootClientName(firmware), name);

        const std::string want = http_vendor ? (arm ? p.http_arm : p.http) : (arm ? p.pxe_arm : p.pxe);
        const LoaderChoice got = ChooseLoader(firmware, Server(), files);
        EXPECT_FALSE(got.why.empty());
        if (want == "-") {
          EXPECT_FALSE(got.answer.has_value()) << got.answer->boot_file;
        } else {
          ASSERT_TRUE(got.answer.has_value()) << got.why;
          // HTTP boot (by option 60 or by arch type 15-19) gets a full URL and
          // HTTPClient back; PXE gets a TFTP file name.
          const bool http = firmware.transport == LoaderTransport::kHttp;
          EXPECT_EQ(got.answer->http_client, http);
          EXPECT_EQ(got.answer->boot_file, http ? kUrl + want : want);
        }

        // The same request from iPXE (user class "iPXE"): already running
        // on that machine, it gets the chain script, never a loader.
        const LoaderChoice ipxe = ChooseLoader(BootClientFromDhcp(p.arch, vendor, true), Server(), files);
        ASSERT_TRUE(ipxe.answer.has_value());
        EXPECT_EQ(ipxe.answer->boot_file, "http://10.66.0.1:8080/boot.ipxe");
        EXPECT_FALSE(ipxe.answer->http_client);
      }
    }
  }
}

// Whatever a client sends (every arch type 0-40, with and without a vendor
// class): a loader it is offered is one built for its CPU and firmware.
TEST(BootFilesEveryPair, NoLoaderOfAnotherArchitectureOrFirmware) {
  for (unsigned a = 0; a <= 40; ++a) {
    for (const char* kind : {"PXEClient", "HTTPClient", ""}) {
      const std::string vendor = *kind ? VendorFor(kind, static_cast<std::uint16_t>(a)) : "";
      const BootClient c = BootClientFromDhcp(static_cast<std::uint16_t>(a), vendor, false);
      const LoaderChoice got = ChooseLoader(c, Server(), kWithArm64);
      if (!got.answer) continue;
      SCOPED_TRACE("arch " + std::to_string(a) + " " + vendor + " -> " + got.answer->boot_file);
      const std::string_view file = got.answer->boot_file;
      const bool arm_file = file.find("arm64/") != std::string_view::npos;
      EXPECT_EQ(arm_file, c.arch == CpuArch::kArm64);
      EXPECT_EQ(file.ends_with(".efi"), c.firmware == Firmware::kUefi);
      if (!arm_file) {
        EXPECT_TRUE(c.arch == CpuArch::kX86_64 || c.arch == CpuArch::kI386);
      }
    }
  }
}

TEST(InstallerArch, TheKernelRunsOnTheMachine) {
  const BootClient x64 = BootClientFromIpxe("x86_64", "efi");
  const BootClient pcbios = BootClientFromIpxe("i386", "pcbios");  // undionly.kpxe on any PC
  const BootClient arm64 = BootClientFromIpxe("arm64", "efi");
  const BootClient arm32 = BootClientFromIpxe("arm32", "efi");
  const BootClient silent = BootClientFromIpxe("", "");  // an iPXE that does not say
  EXPECT_FALSE(InstallerArchMismatch("amd64", x64));
  EXPECT_FALSE(InstallerArchMismatch("amd64", pcbios));
  EXPECT_FALSE(InstallerArchMismatch("amd64", silent));
  EXPECT_FALSE(InstallerArchMismatch("arm64", arm64));
  EXPECT_FALSE(InstallerArchMismatch("arm64", silent));
  EXPECT_EQ(InstallerArchMismatch("amd64", arm64), "the profile's kernel is amd64, this machine runs uefi arm64");
  EXPECT_TRUE(InstallerArchMismatch("amd64", arm32));
  EXPECT_EQ(InstallerArchMismatch("arm64", x64), "the profile's kernel is arm64, this machine runs uefi x86_64");
  EXPECT_TRUE(InstallerArchMismatch("arm64", pcbios));
}

}  // namespace
}  // namespace metalpxe
