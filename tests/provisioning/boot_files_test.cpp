// The one boot-file table: every (arch, firmware, transport) row, and no
// client is ever offered a binary it cannot run.
#include "core/provisioning/boot_files.h"

#include <cstdio>
#include <optional>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "core/provisioning/boot_decision.h"
#include "core/provisioning/boot_urls.h"
#include "core/provisioning/talos_kernel_args.h"

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
    // A profile's file (the UKI) is the profile's arch: DecideLoader checks
    // it against the client (UkiGoesToAnInstallingMachineOfTheProfilesArch).
    if (!row.profile_file) {
      EXPECT_EQ(arm, std::string_view(row.file).find("arm") != std::string_view::npos) << row.file;
    }
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

// Secure Boot (a machine or profile marked secureBoot): the signed chain,
// shim then GRUB, over firmware PXE on x86_64 UEFI only; every other pair
// gets nothing (the signed GRUB cannot start from HTTP boot, and there is no
// signed chain for other CPUs here), and never the unsigned iPXE.
const auto kWithSigned = Having({"undionly.kpxe", "snponly.efi", "arm64/ipxe.efi", "shimx64.efi", "grubx64.efi"});

TEST(BootFilesEveryPair, SecureBootGetsTheSignedChainOrNothing) {
  for (const PairCase& p : kPairs) {
    for (const char* kind : {"PXEClient", "HTTPClient"}) {
      const std::string vendor = VendorFor(kind, p.arch);
      SCOPED_TRACE("arch " + std::to_string(p.arch) + " " + vendor);
      const BootClient firmware = BootClientFromDhcp(p.arch, vendor, false);
      const LoaderChoice got = ChooseLoader(firmware, Server(), kWithSigned, SecureBootChain::kShim);
      const bool pxe_x64 = (p.arch == 7 || p.arch == 9) && std::string_view(kind) == "PXEClient";
      if (pxe_x64) {
        ASSERT_TRUE(got.answer.has_value()) << got.why;
        EXPECT_EQ(got.answer->boot_file, "shimx64.efi");
        EXPECT_FALSE(got.answer->http_client);
        EXPECT_EQ(got.why, "uefi x86_64 under Secure Boot");
      } else {
        EXPECT_FALSE(got.answer.has_value()) << got.answer->boot_file;
        EXPECT_NE(got.why.find("under Secure Boot"), std::string::npos) << got.why;
      }
      // Without the mark, the same appliance never offers shim.
      const LoaderChoice plain = ChooseLoader(firmware, Server(), kWithSigned, SecureBootChain::kNone);
      if (plain.answer) {
        EXPECT_EQ(plain.answer->boot_file.find("shim"), std::string::npos);
      }
    }
  }
}

TEST(BootFiles, SecureBootNeedsShimAndGrubInTftpRoot) {
  const BootClient x64 = BootClientFromDhcp(7, "PXEClient:Arch:00007:UNDI:003016", false);
  const auto no_grub = ChooseLoader(x64, Server(), Having({"snponly.efi", "shimx64.efi"}), SecureBootChain::kShim);
  EXPECT_FALSE(no_grub.answer.has_value());
  EXPECT_EQ(no_grub.why, "no grubx64.efi in tftpRoot for uefi x86_64 under Secure Boot");
  const auto none = ChooseLoader(x64, Server(), kDebianIpxe, SecureBootChain::kShim);
  EXPECT_FALSE(none.answer.has_value());  // not snponly.efi, which the firmware would refuse
  EXPECT_EQ(none.why, "no shimx64.efi in tftpRoot for uefi x86_64 under Secure Boot");
}

TEST(DecideLoader, SecureBootFromTheMachineOrItsProfile) {
  AppConfig cfg;
  cfg.server = Server();
  cfg.profiles["sb"].name = "sb";
  cfg.profiles["sb"].secure_boot = SecureBootChain::kShim;
  cfg.profiles["plain"].name = "plain";
  const BootClient uefi = BootClientFromDhcp(7, "PXEClient:Arch:00007:UNDI:003016", false);
  auto inv = std::make_shared<Inventory>();
  auto add = [&](const char* name, const char* mac, const char* profile, std::optional<bool> sb) {
    MachineConfig m;
    m.name = name;
    m.macs = {*MacAddress::Parse(mac)};
    m.profile = profile;
    m.secure_boot = sb;
    inv->machines.push_back(m);
  };
  add("by-profile", "52:54:00:00:00:01", "sb", std::nullopt);
  add("by-machine", "52:54:00:00:00:02", "plain", true);
  add("opted-out", "52:54:00:00:00:03", "sb", false);
  add("plain", "52:54:00:00:00:04", "plain", std::nullopt);
  cfg.inventory = inv;
  auto file = [&](const char* mac) {
    auto c = DecideLoader(cfg, uefi, *MacAddress::Parse(mac), MachineState::kPendingInstall, kWithSigned);
    return c.answer ? c.answer->boot_file : std::string("-");
  };
  EXPECT_EQ(file("52:54:00:00:00:01"), "shimx64.efi");
  EXPECT_EQ(file("52:54:00:00:00:02"), "shimx64.efi");
  EXPECT_EQ(file("52:54:00:00:00:03"), "snponly.efi");
  EXPECT_EQ(file("52:54:00:00:00:04"), "snponly.efi");
  // Unknown machines: the default profile's under auto-install, else unsigned.
  cfg.boot.default_profile = "sb";
  cfg.boot.unknown_machines = UnknownMachinePolicy::kAutoInstall;
  EXPECT_EQ(file("52:54:00:00:00:99"), "shimx64.efi");
  cfg.boot.unknown_machines = UnknownMachinePolicy::kDiscover;
  EXPECT_EQ(file("52:54:00:00:00:99"), "snponly.efi");
}

// secureBoot uki: the profile's signed UKI, handed by the firmware's own
// HTTP boot (a URL, HTTPClient) or PXE (TFTP name) on x86_64 and arm64
// UEFI; BIOS gets nothing; never iPXE, shim or another profile's UKI.
const auto kWithUki = Having({"undionly.kpxe", "snponly.efi", "arm64/ipxe.efi", "shimx64.efi", "grubx64.efi",
                              "profiles/talos-sb/secureboot-uki.efi"});

TEST(BootFilesEveryPair, UkiGetsTheProfilesUkiOrNothing) {
  for (const PairCase& p : kPairs) {
    for (const char* kind : {"PXEClient", "HTTPClient"}) {
      const std::string vendor = VendorFor(kind, p.arch);
      SCOPED_TRACE("arch " + std::to_string(p.arch) + " " + vendor);
      const BootClient firmware = BootClientFromDhcp(p.arch, vendor, false);
      const LoaderChoice got = ChooseLoader(firmware, Server(), kWithUki, SecureBootChain::kUki, "talos-sb");
      const bool uefi = firmware.firmware == Firmware::kUefi &&
                        (firmware.arch == CpuArch::kX86_64 || firmware.arch == CpuArch::kArm64);
      if (!uefi) {
        EXPECT_FALSE(got.answer.has_value()) << got.answer->boot_file;
        EXPECT_NE(got.why.find("under Secure Boot (UKI)"), std::string::npos) << got.why;
        continue;
      }
      ASSERT_TRUE(got.answer.has_value()) << got.why;
      const bool http = firmware.transport == LoaderTransport::kHttp;
      EXPECT_EQ(got.answer->http_client, http);
      EXPECT_EQ(got.answer->boot_file, http ? "http://10.66.0.1:8080/assets/profiles/talos-sb/secureboot-uki.efi"
                                            : "profiles/talos-sb/secureboot-uki.efi");
      // iPXE (a signed one, or a ROM) gets the chain script: /ipxe hands the UKI.
      EXPECT_EQ(ChooseLoader(BootClientFromDhcp(p.arch, vendor, true), Server(), kWithUki, SecureBootChain::kUki,
                             "talos-sb").answer->boot_file,
                "http://10.66.0.1:8080/boot.ipxe");
    }
  }
}

TEST(BootFiles, UkiMustBePublishedAndComesFromTheProfile) {
  const BootClient http = BootClientFromDhcp(16, "HTTPClient:Arch:00016:UNDI:003001", false);
  const auto unpublished = ChooseLoader(http, Server(), kWithUki, SecureBootChain::kUki, "other");
  EXPECT_FALSE(unpublished.answer.has_value());  // not snponly.efi, not another profile's UKI
  EXPECT_EQ(unpublished.why,
            "no profiles/other/secureboot-uki.efi published for uefi x86_64 (HTTP boot) under Secure Boot (UKI)");
  EXPECT_FALSE(ChooseLoader(http, Server(), kWithUki, SecureBootChain::kUki).answer.has_value());
  // Over IPv6 (HTTPv6 boot) the URL names server.address6.
  ServerConfig dual = Server();
  dual.address6 = *Ipv6Address::Parse("fd66::1");
  BootClient http6 = http;
  http6.family = IpFamily::kIpv6;
  EXPECT_EQ(ChooseLoader(http6, dual, kWithUki, SecureBootChain::kUki, "talos-sb").answer->boot_file,
            "http://[fd66::1]:8080/assets/profiles/talos-sb/secureboot-uki.efi");
}

TEST(DecideLoader, UkiGoesToAnInstallingMachineOfTheProfilesArch) {
  AppConfig cfg;
  cfg.server = Server();
  cfg.profiles["talos-sb"].name = "talos-sb";
  cfg.profiles["talos-sb"].secure_boot = SecureBootChain::kUki;
  cfg.profiles["plain"].name = "plain";
  cfg.profiles["arm-sb"].name = "arm-sb";
  cfg.profiles["arm-sb"].arch = "arm64";
  cfg.profiles["arm-sb"].secure_boot = SecureBootChain::kUki;
  auto inv = std::make_shared<Inventory>();
  auto add = [&](const char* name, const char* mac, const char* profile, std::optional<bool> sb) {
    MachineConfig m;
    m.name = name;
    m.macs = {*MacAddress::Parse(mac)};
    m.profile = profile;
    m.secure_boot = sb;
    inv->machines.push_back(m);
  };
  add("by-profile", "52:54:00:00:00:01", "talos-sb", std::nullopt);
  add("marked", "52:54:00:00:00:02", "talos-sb", true);
  add("opted-out", "52:54:00:00:00:03", "talos-sb", false);
  add("shim", "52:54:00:00:00:04", "plain", true);
  add("arm", "52:54:00:00:00:05", "arm-sb", std::nullopt);
  cfg.inventory = inv;
  const BootClient http = BootClientFromDhcp(16, "HTTPClient:Arch:00016:UNDI:003001", false);
  const BootClient pxe = BootClientFromDhcp(7, "PXEClient:Arch:00007:UNDI:003016", false);
  const auto files = Having({"snponly.efi", "shimx64.efi", "grubx64.efi", "profiles/talos-sb/secureboot-uki.efi",
                             "profiles/arm-sb/secureboot-uki.efi"});
  auto choose = [&](const BootClient& c, const char* mac, MachineState state = MachineState::kPendingInstall) {
    return DecideLoader(cfg, c, *MacAddress::Parse(mac), state, files);
  };
  auto file = [&](const BootClient& c, const char* mac, MachineState state = MachineState::kPendingInstall) {
    const auto got = choose(c, mac, state);
    return got.answer ? got.answer->boot_file : "- " + got.why;
  };
  EXPECT_EQ(file(http, "52:54:00:00:00:01"), "http://10.66.0.1:8080/assets/profiles/talos-sb/secureboot-uki.efi");
  EXPECT_EQ(file(pxe, "52:54:00:00:00:01"), "profiles/talos-sb/secureboot-uki.efi");
  EXPECT_EQ(file(pxe, "52:54:00:00:00:02"), "profiles/talos-sb/secureboot-uki.efi");
  EXPECT_EQ(file(pxe, "52:54:00:00:00:03"), "snponly.efi");
  EXPECT_EQ(file(pxe, "52:54:00:00:00:04"), "shimx64.efi");
  // An installed machine is handed nothing: its firmware goes on to its disk.
  EXPECT_EQ(file(http, "52:54:00:00:00:01", MachineState::kInstalled),
            "- Secure Boot (UKI): installed, no installer to hand");
  // An arm64 profile's UKI never goes to an x86_64 machine.
  EXPECT_EQ(file(http, "52:54:00:00:00:05"),
            "- no UKI offered: the profile's kernel is arm64, this machine runs uefi x86_64 (HTTP boot) "
            "(profile arm-sb)");
  EXPECT_EQ(file(BootClientFromDhcp(19, "HTTPClient:Arch:00019:UNDI:003001", false), "52:54:00:00:00:05"),
            "http://10.66.0.1:8080/assets/profiles/arm-sb/secureboot-uki.efi");
  // Unknown machines under auto-install take the default profile's UKI.
  cfg.boot.default_profile = "talos-sb";
  cfg.boot.unknown_machines = UnknownMachinePolicy::kAutoInstall;
  EXPECT_EQ(file(pxe, "52:54:00:00:00:99"), "profiles/talos-sb/secureboot-uki.efi");
  cfg.boot.unknown_machines = UnknownMachinePolicy::kDiscover;
  EXPECT_EQ(file(pxe, "52:54:00:00:00:99"), "snponly.efi");
}

TEST(MachineSecureBoot, TheMachineOverridesItsProfile) {
  using enum SecureBootChain;
  EXPECT_EQ(MachineSecureBoot(kNone, std::nullopt), kNone);
  EXPECT_EQ(MachineSecureBoot(kShim, std::nullopt), kShim);
  EXPECT_EQ(MachineSecureBoot(kUki, std::nullopt), kUki);
  EXPECT_EQ(MachineSecureBoot(kNone, true), kShim);
  EXPECT_EQ(MachineSecureBoot(kShim, true), kShim);
  EXPECT_EQ(MachineSecureBoot(kUki, true), kUki);
  for (auto p : {kNone, kShim, kUki}) EXPECT_EQ(MachineSecureBoot(p, false), kNone);
}

TEST(UkiPaths, TheProfileOfAFetchedUki) {
  EXPECT_EQ(UkiProfileOf("/assets/profiles/talos-sb/secureboot-uki.efi"), "talos-sb");
  EXPECT_EQ(UkiProfileOf("profiles/talos-sb/secureboot-uki.efi"), "talos-sb");
  EXPECT_EQ(UkiProfileOf("/profiles/talos-sb/secureboot-uki.efi"), "talos-sb");
  for (const char* other : {"/assets/profiles/talos-sb/vmlinuz", "/assets/snponly.efi", "secureboot-uki.efi",
                            "/assets/profiles//secureboot-uki.efi", "/assets/profiles/a/b/secureboot-uki.efi",
                            "/assets/profilesx/secureboot-uki.efi", "profiles/secureboot-uki.efi", ""})
    EXPECT_FALSE(UkiProfileOf(other).has_value()) << other;
  EXPECT_EQ(ProfileAssetUrlsFor(Server(), "p").uki, "http://10.66.0.1:8080/assets/profiles/p/secureboot-uki.efi");
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

namespace metalpxe {
namespace {

ServerConfig DualStackServer() {
  ServerConfig s = Server();
  s.address6 = *Ipv6Address::Parse("fd00:66::1");
  return s;
}

LoaderChoice Choose6(std::uint16_t arch_type, const char* vendor, bool ipxe = false,
                     const ServerConfig& server = DualStackServer()) {
  BootClient c = BootClientFromDhcp(arch_type, vendor, ipxe);
  c.family = IpFamily::kIpv6;
  return ChooseLoader(c, server, kWithArm64);
}

TEST(BootFiles, OverIpv6EveryAnswerIsAUrlWithAnIpv6Literal) {
  // OVMF PXEv6 (arch 7, also 9), HTTPv6 (16), arm64 (11, 19).
  for (std::uint16_t a : {7, 9}) {
    const auto c = Choose6(a, "PXEClient:Arch:00007:UNDI:003016");
    ASSERT_TRUE(c.answer) << c.why;
    EXPECT_EQ(c.answer->boot_file, "tftp://[fd00:66::1]/snponly.efi");
    EXPECT_FALSE(c.answer->http_client);
    EXPECT_NE(c.why.find("over IPv6"), std::string::npos);
  }
  const auto http = Choose6(16, "HTTPClient:Arch:00016:UNDI:003001");
  ASSERT_TRUE(http.answer);
  EXPECT_EQ(http.answer->boot_file, "http://[fd00:66::1]:8080/assets/snponly.efi");
  EXPECT_TRUE(http.answer->http_client);
  EXPECT_EQ(Choose6(11, "PXEClient:Arch:00011:UNDI:003000").answer->boot_file,
            "tftp://[fd00:66::1]/arm64/ipxe.efi");
  EXPECT_EQ(Choose6(19, "HTTPClient:Arch:00019:UNDI:003000").answer->boot_file,
            "http://[fd00:66::1]:8080/assets/arm64/ipxe.efi");
  // iPXE over IPv6 chains to the script by the IPv6 literal.
  EXPECT_EQ(Choose6(7, "PXEClient:Arch:00007:UNDI:003016", true).answer->boot_file,
            "http://[fd00:66::1]:8080/boot.ipxe");
  // A TFTP port other than 69 is in the URL.
  ServerConfig odd = DualStackServer();
  odd.tftp_port = 6969;
  EXPECT_EQ(Choose6(7, "PXEClient", false, odd).answer->boot_file, "tftp://[fd00:66::1]:6969/snponly.efi");
}

TEST(BootFiles, OverIpv6NoBiosLoaderAndNothingWithoutAnAddress6) {
  // BIOS PXE has no IPv6: undionly.kpxe is never offered over DHCPv6.
  const auto bios = Choose6(0, "PXEClient:Arch:00000:UNDI:002001");
  EXPECT_FALSE(bios.answer);
  EXPECT_NE(bios.why.find("no loader"), std::string::npos) << bios.why;
  const auto none = Choose6(7, "PXEClient", false, Server());
  EXPECT_FALSE(none.answer);
  EXPECT_NE(none.why.find("server.address6"), std::string::npos) << none.why;
  // IPv4 answers are unchanged with address6 set.
  EXPECT_EQ(ChooseLoader(BootClientFromDhcp(16, "HTTPClient", false), DualStackServer(), kWithArm64).answer->boot_file,
            "http://10.66.0.1:8080/assets/snponly.efi");
}

TEST(BootUrls, Ipv6LiteralsInEveryUrlAndKernelArgs) {
  const ServerConfig s = DualStackServer();
  EXPECT_EQ(HttpBaseUrl(s, IpFamily::kIpv6), "http://[fd00:66::1]:8080");
  EXPECT_EQ(HttpBaseUrl(s), "http://10.66.0.1:8080");
  EXPECT_EQ(ConfigUrl(s, "tok", IpFamily::kIpv6), "http://[fd00:66::1]:8080/config/tok");
  EXPECT_EQ(MachineScriptUrl(s, IpFamily::kIpv6), "http://[fd00:66::1]:8080/ipxe");
  EXPECT_EQ(ProfileAssetUrlsFor(s, "default", IpFamily::kIpv6).kernel,
            "http://[fd00:66::1]:8080/assets/profiles/default/vmlinuz");
  ProfileConfig p;
  const auto args = TalosKernelArgs(s, p, nullptr, ConfigUrl(s, "tok", IpFamily::kIpv6), false, IpFamily::kIpv6);
  const std::string line = JoinArgs(args);
  EXPECT_NE(line.find("talos.config=http://[fd00:66::1]:8080/config/tok"), std::string::npos) << line;
  EXPECT_NE(line.find("talos.events.sink=[fd00:66::1]:50101"), std::string::npos) << line;
  EXPECT_NE(line.find("talos.logging.kernel=tcp://[fd00:66::1]:50102"), std::string::npos) << line;
}

}  // namespace
}  // namespace metalpxe
