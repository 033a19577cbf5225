// The provisioning service without sockets: every boot-path decision through
// its calls, over the real SqliteStore in a temporary stateDir, so what the
// hot path writes (or must not write) is counted in the real database.
#include "core/provisioning/provisioning_service.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "core/install/config_token_codec.h"
#include "core/provisioning/talos_kernel_args.h"
#include "core/store/sqlite_store.h"

namespace metalpxe {
namespace {

namespace fs = std::filesystem;

const MacAddress kCp = *MacAddress::Parse("52:54:00:12:34:56");
const Ipv4Address kCpIp = *Ipv4Address::Parse("10.66.0.50");
const Ipv4Address kOther = *Ipv4Address::Parse("10.66.0.77");

constexpr const char* kControlPlane = R"(version: v1alpha1
machine:
  type: controlplane
  token: abcdef.0123456789abcdef
  install:
    disk: /dev/sda
cluster:
  clusterName: lab
)";

TokenKey KeyOf(std::uint8_t fill) {
  TokenKey k;
  k.fill(fill);
  return k;
}

std::string TokenOf(const IpxeAnswer& a) {
  for (const auto& arg : a.kernel_args) {
    const std::string prefix = "talos.config=http://10.66.0.1:8080/config/";
    if (arg.rfind(prefix, 0) == 0) return arg.substr(prefix.size());
  }
  return "";
}

class ProvisioningServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("metalpxe-service-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "state");
    std::ofstream(dir_ / "controlplane.yaml") << kControlPlane;
    auto cfg = std::make_shared<AppConfig>();
    cfg->server.address = *Ipv4Address::Parse("10.66.0.1");
    cfg->server.http_port = 8080;
    cfg->server.state_dir = (dir_ / "state").string();
    cfg->dhcp.mode = DhcpMode::kProxy;
    cfg->boot.config_token_max_fetches = 3;
    ProfileConfig p;
    p.name = "default";
    p.configs[Role::kControlPlane] = (dir_ / "controlplane.yaml").string();
    p.configs[Role::kWorker] = (dir_ / "controlplane.yaml").string();
    cfg->profiles["default"] = p;
    auto inv = std::make_shared<Inventory>();
    MachineConfig cp;
    cp.name = "cp-1";
    cp.macs = {kCp};
    cp.role = Role::kControlPlane;
    cp.profile = "default";
    inv->machines.push_back(cp);
    cfg->inventory = inv;
    source_ = std::make_unique<SwappableConfigSource>(cfg);
    OpenService();
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  void OpenService(ProvisioningOptions options = {}) {
    service_.reset();
    store_.reset();
    auto opened = SqliteStore::Open((dir_ / "state").string());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
    if (options.token_key == TokenKey{}) options.token_key = KeyOf(7);
    options.loader_exists = [](std::string_view f) { return f == "snponly.efi" || f == "undionly.kpxe"; };
    service_ = std::make_unique<ProvisioningService>(*source_, store_.get(), options);
    ASSERT_TRUE(service_->Load().ok());
  }

  void Reconfigure(const std::function<void(AppConfig&)>& change) {
    auto cfg = std::make_shared<AppConfig>(*source_->Current());
    change(*cfg);
    source_->Swap(cfg);
  }

  IpxeAnswer Ipxe(const MacAddress& mac, Ipv4Address peer) {
    return service_->OnIpxe({mac, peer, "4c4c4544-0031", "SN1", "x86_64", "efi"});
  }

  std::size_t StoredEvents() {
    EXPECT_TRUE(store_->Flush().ok());
    return store_->LoadEvents(0, 1'000'000)->size();
  }

  fs::path dir_;
  std::unique_ptr<SwappableConfigSource> source_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<ProvisioningService> service_;
};

TEST_F(ProvisioningServiceTest, InstallerScriptThenItsOwnConfigThroughOneToken) {
  const IpxeAnswer a = Ipxe(kCp, kCpIp);
  ASSERT_EQ(a.kind, IpxeAnswer::Kind::kInstall) << a.why;
  EXPECT_EQ(a.machine_name, "cp-1");
  EXPECT_EQ(a.role, Role::kControlPlane);
  EXPECT_EQ(a.assets.kernel, "http://10.66.0.1:8080/assets/profiles/default/vmlinuz");
  const std::string token = TokenOf(a);
  ASSERT_EQ(token.size(), kTokenChars);

  const ConfigAnswer c = service_->OnConfigFetch(token, kCpIp);
  ASSERT_EQ(c.kind, ConfigAnswer::Kind::kServed) << c.why;
  EXPECT_NE(c.yaml.find("hostname: cp-1"), std::string::npos) << c.yaml;
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kInstalling);
  // The machine's record keeps what its iPXE said, in the one vocabulary.
  EXPECT_EQ(service_->registry().Get(kCp)->arch, "uefi-x86_64");
}

TEST_F(ProvisioningServiceTest, OneBootIsOneTimelineWithoutSecretsKeptAcrossARestart) {
  DhcpSighting d;
  d.mac = kCp;
  d.client = BootClientFromDhcp(7, "PXEClient:Arch:00007", false);
  d.received = "DISCOVER";
  d.replied = "OFFER";
  d.boot_file = "snponly.efi";
  d.proxy = true;
  service_->OnDhcp(d);
  const IpxeAnswer a = Ipxe(kCp, kCpIp);
  ASSERT_EQ(a.kind, IpxeAnswer::Kind::kInstall);
  const std::string token = TokenOf(a);
  service_->OnHttpFileFetch(kCpIp, {"/assets/profiles/default/vmlinuz", 200, 1000, std::chrono::milliseconds(10), true});
  ASSERT_EQ(service_->OnConfigFetch(token, kCpIp).kind, ConfigAnswer::Kind::kServed);
  ASSERT_EQ(service_->OnConfigFetch("not-a-token", kCpIp).kind, ConfigAnswer::Kind::kRefused);
  service_->OnKernelLog(kCpIp, "Linux version 6.6.52-talos");
  service_->OnKernelLog(kCpIp, "random noise");
  TalosEvent ev;
  ev.peer = kCpIp;
  ev.type = kTalosSequenceEvent;
  ev.name = "install";
  ev.action = "START";
  service_->OnTalosEvent(ev);
  // Someone else's address: not this machine's story.
  service_->OnTftpFetch(kOther, {"snponly.efi", 10, {}, 0, 0, 0, true, ""});

  auto check = [&](const std::vector<TimelineEntry>& entries) {
    std::vector<std::string> lines;
    for (const auto& e : entries) {
      lines.push_back(std::string(TimelineSourceName(e.source)) + ": " + e.summary);
      EXPECT_EQ(e.summary.find(token), std::string::npos) << e.summary;
      EXPECT_EQ(e.details.find(token), std::string::npos) << e.details;
      EXPECT_EQ(e.details.find("machine:"), std::string::npos) << "no config text: " << e.details;
    }
    const std::vector<std::string> expected = {
        "dhcp: DHCP DISCOVER from firmware (uefi-x86_64) -> OFFER, boot file snponly.efi (proxy)",
        "http: HTTP GET /ipxe (uefi-x86_64): install as controlplane",
        "http: HTTP GET kernel /assets/profiles/default/vmlinuz, 1000 B in 0.01 s",
        "http: HTTP GET /config: granted to 10.66.0.50",
        "state: pending-install -> installing: config fetched by 10.66.0.50",
        "http: HTTP GET /config: refused (unknown)",
        "kmsg: kernel started",
        "talos: Talos Sequence install START",
    };
    EXPECT_EQ(lines, expected);
  };
  check(service_->timeline().Entries(kCp));
  OpenService();  // a restart: the story is read back from the store
  check(service_->timeline().Entries(kCp));
}

// Secure Boot on and the unsigned iPXE offered: the firmware fetches the
// loader, refuses to start it, and DHCPs again; the timeline and the
// machine's events say so. A loader that started (iPXE DHCPs) does not.
TEST_F(ProvisioningServiceTest, ARefusedLoaderIsARefusedBootInTheTimeline) {
  auto firmware_discover = [&] {
    DhcpSighting d;
    d.mac = kCp;
    d.leased = kCpIp;
    d.client = BootClientFromDhcp(7, "PXEClient:Arch:00007", false);
    d.received = "DISCOVER";
    d.replied = "OFFER";
    d.boot_file = "snponly.efi";
    service_->OnDhcp(d);
  };
  auto refusals = [&] {
    int n = 0;
    for (const auto& e : service_->timeline().Entries(kCp)) n += e.summary.starts_with("refused boot: loader snponly.efi");
    return n;
  };
  firmware_discover();
  service_->OnTftpFetch(kCpIp, {"snponly.efi", 10, {}, 0, 0, 0, true, ""});
  DhcpSighting ipxe{kCp, kCpIp, BootClientFromDhcp(7, "PXEClient:Arch:00007", true), "", ""};
  ipxe.received = "DISCOVER";
  service_->OnDhcp(ipxe);  // iPXE runs: its own DHCP
  firmware_discover();     // a later boot
  EXPECT_EQ(refusals(), 0);

  service_->OnTftpFetch(kCpIp, {"snponly.efi", 10, {}, 0, 0, 0, true, ""});
  firmware_discover();  // nothing from iPXE in between: refused
  EXPECT_EQ(refusals(), 1);
  const auto entries = service_->timeline().Entries(kCp);
  ASSERT_FALSE(entries.empty());
  EXPECT_NE(entries[entries.size() - 2].summary.find("Secure Boot may be on: mark the machine secureBoot"),
            std::string::npos)
      << entries[entries.size() - 2].summary;
  bool event = false;
  for (const auto& e : service_->registry().RecentEvents(0, 1000)) event |= e.message.find("refused boot: loader") == 0;
  EXPECT_TRUE(event);
  firmware_discover();  // said once per fetch
  EXPECT_EQ(refusals(), 1);

  // The kernel's own line says whether Secure Boot was on: timeline and record.
  service_->OnKernelLog(kCpIp, "secureboot: Secure boot enabled");
  EXPECT_EQ(service_->timeline().Entries(kCp).back().summary, "Secure Boot: on");
  bool on = false;
  for (const auto& e : service_->registry().RecentEvents(0, 1000)) on |= e.kind == "secure-boot" && e.message == "Secure Boot: on";
  EXPECT_TRUE(on);
  EXPECT_EQ(service_->registry().SecureBootOf(kCp), "on");
  OpenService();  // read back from the store's events
  EXPECT_EQ(service_->registry().SecureBootOf(kCp), "on");
}

// secureBoot uki: the firmware fetches the profile's signed UKI itself (UEFI
// HTTP boot), no /ipxe in between; the fetch makes the machine an apply
// target at its leased address, kept in the store, and the timeline and
// events say "UKI fetched" before the config is applied.
TEST_F(ProvisioningServiceTest, AFetchedUkiMakesTheMachineAnApplyTarget) {
  Reconfigure([](AppConfig& c) {
    c.dhcp.mode = DhcpMode::kFull;
    c.profiles["default"].secure_boot = SecureBootChain::kUki;
    c.profiles["default"].config_delivery = ConfigDelivery::kApply;
  });
  DhcpSighting d{kCp, kCpIp, BootClientFromDhcp(16, "HTTPClient:Arch:00016:UNDI:003001", false), "HTTPClient", ""};
  d.received = "REQUEST";
  d.replied = "ACK";
  d.boot_file = "http://10.66.0.1:8080/assets/profiles/default/secureboot-uki.efi";
  service_->OnDhcp(d);
  const std::string uki = "/assets/profiles/default/secureboot-uki.efi";
  // A fetch cut short, and one from an address that is not the machine's: nothing.
  service_->OnHttpFileFetch(kCpIp, {uki, 200, 1000, std::chrono::milliseconds(10), false});
  service_->OnHttpFileFetch(kOther, {uki, 200, 5000, std::chrono::milliseconds(10), true});
  EXPECT_TRUE(service_->ConfigApplyTargets().empty());

  service_->OnHttpFileFetch(kCpIp, {uki, 200, 5000, std::chrono::milliseconds(10), true});
  auto targets = service_->ConfigApplyTargets();
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].mac, kCp);
  EXPECT_EQ(targets[0].machine, "cp-1");
  EXPECT_EQ(targets[0].address, kCpIp);
  ASSERT_TRUE(store_->Flush().ok());
  EXPECT_EQ(store_->LoadApplyTargets()->size(), 1u) << "kept for a restart before the apply";
  service_->OnHttpFileFetch(kCpIp, {uki, 200, 5000, std::chrono::milliseconds(10), true});  // again: said once
  int said = 0;
  for (const auto& e : service_->registry().RecentEvents(0, 1000))
    said += e.message == "UKI fetched over HTTP (profile default, role controlplane): config by apply to 10.66.0.50";
  EXPECT_EQ(said, 1);

  service_->OnConfigApplied(kCp, kCpIp, "REBOOT");
  EXPECT_TRUE(service_->ConfigApplyTargets().empty());
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kInstalling);
  std::vector<std::string> timeline;
  for (const auto& e : service_->timeline().Entries(kCp)) timeline.push_back(e.summary);
  auto at = [&](std::string_view prefix) {
    for (std::size_t i = 0; i < timeline.size(); ++i)
      if (timeline[i].starts_with(prefix)) return static_cast<int>(i);
    return -1;
  };
  const int fetched = at("HTTP GET UKI /assets/profiles/default/secureboot-uki.efi, ");
  const int told = at("UKI fetched over HTTP (profile default, role controlplane): config by apply to 10.66.0.50");
  const int applied = at("pending-install -> installing: config applied over TLS to 10.66.0.50");
  EXPECT_GE(fetched, 0);
  EXPECT_GT(told, fetched);
  EXPECT_GT(applied, told);
}

TEST_F(ProvisioningServiceTest, IpxeHandsTheUkiWithoutArgumentsAndTheMachineWaitsForApply) {
  Reconfigure([](AppConfig& c) {
    c.profiles["default"].secure_boot = SecureBootChain::kUki;
    c.profiles["default"].config_delivery = ConfigDelivery::kApply;
  });
  // iPXE (a signed build, or a NIC's ROM) asks /ipxe: it hands the UKI, no
  // arguments and no token, and the machine is a target from there.
  const IpxeAnswer a = Ipxe(kCp, kCpIp);
  ASSERT_EQ(a.kind, IpxeAnswer::Kind::kInstall) << a.why;
  EXPECT_TRUE(a.uki);
  EXPECT_EQ(a.assets.uki, "http://10.66.0.1:8080/assets/profiles/default/secureboot-uki.efi");
  EXPECT_TRUE(TokenOf(a).empty());
  ASSERT_EQ(service_->ConfigApplyTargets().size(), 1u);
  EXPECT_EQ(service_->ConfigApplyTargets()[0].address, kCpIp);
}

TEST_F(ProvisioningServiceTest, AUkiFetchedByAMachineNotOnTheUkiPathIsNoTarget) {
  Reconfigure([](AppConfig& c) {
    c.dhcp.mode = DhcpMode::kFull;
    c.profiles["default"].secure_boot = SecureBootChain::kUki;
    c.profiles["default"].config_delivery = ConfigDelivery::kApply;
    auto inv = std::make_shared<Inventory>(*c.inventory);
    inv->machines[0].secure_boot = false;  // opted out: boots iPXE and the kernel
    c.inventory = inv;
  });
  service_->OnDhcp({kCp, kCpIp, BootClientFromDhcp(7, "PXEClient:Arch:00007:UNDI:003016", false), "", ""});
  service_->OnTftpFetch(kCpIp, {"profiles/default/secureboot-uki.efi", 5000, {}, 0, 1468, 4, true, ""});
  EXPECT_TRUE(service_->ConfigApplyTargets().empty());
  bool said = false;
  for (const auto& e : service_->registry().RecentEvents(0, 1000))
    said |= e.message == "UKI fetched, no config to apply: the machine boots with secureBoot none, not uki";
  EXPECT_TRUE(said);
  // Marked again: the TFTP fetch (PXE) makes it a target like HTTP boot's.
  Reconfigure([](AppConfig& c) {
    auto inv = std::make_shared<Inventory>(*c.inventory);
    inv->machines[0].secure_boot = true;
    c.inventory = inv;
  });
  service_->OnTftpFetch(kCpIp, {"profiles/default/secureboot-uki.efi", 5000, {}, 0, 1468, 4, true, ""});
  ASSERT_EQ(service_->ConfigApplyTargets().size(), 1u);
  EXPECT_EQ(service_->ConfigApplyTargets()[0].address, kCpIp);
}

TEST_F(ProvisioningServiceTest, RepeatedRequestsWriteNothingAndGetTheSameToken) {
  const std::string first = TokenOf(Ipxe(kCp, kCpIp));
  const std::size_t events = StoredEvents();
  ASSERT_GT(events, 0u);
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(TokenOf(Ipxe(kCp, kCpIp)), first);
  EXPECT_EQ(StoredEvents(), events) << "a repeated /ipxe is not a change of meaning";
  EXPECT_EQ(store_->LoadTokens()->size(), 0u) << "issuing a token stores nothing";
  EXPECT_EQ(service_->counters().tokens_issued.load(), 1u);
  EXPECT_EQ(service_->counters().scripts.load(), 2001u);
}

TEST_F(ProvisioningServiceTest, ForgedAlteredAndForeignKeyTokensAreRefused) {
  std::string token = TokenOf(Ipxe(kCp, kCpIp));
  std::string altered = token;
  altered[10] = altered[10] == 'A' ? 'B' : 'A';
  EXPECT_EQ(service_->OnConfigFetch(altered, kCpIp).kind, ConfigAnswer::Kind::kRefused);
  EXPECT_EQ(service_->OnConfigFetch("not-a-token", kCpIp).kind, ConfigAnswer::Kind::kRefused);
  EXPECT_EQ(service_->OnConfigFetch(token + "A", kCpIp).kind, ConfigAnswer::Kind::kRefused);
  TokenClaims claims{kCp, std::nullopt, 4'000'000'000, {1, 2, 3, 4, 5, 6, 7, 8}};
  const TokenKey other = KeyOf(9);
  EXPECT_EQ(service_->OnConfigFetch(SignToken(claims, other), kCpIp).kind, ConfigAnswer::Kind::kRefused);
  EXPECT_EQ(service_->OnConfigFetch(token, kCpIp).kind, ConfigAnswer::Kind::kServed);
  EXPECT_EQ(service_->counters().configs_refused.load(), 4u);
}

TEST_F(ProvisioningServiceTest, FetchesAreCountedAcrossARestart) {
  const std::string token = TokenOf(Ipxe(kCp, kCpIp));
  EXPECT_EQ(service_->OnConfigFetch(token, kCpIp).kind, ConfigAnswer::Kind::kServed);
  EXPECT_EQ(service_->OnConfigFetch(token, kCpIp).kind, ConfigAnswer::Kind::kServed);
  ASSERT_TRUE(store_->Flush().ok());
  OpenService();  // same key, same store: the token still opens, with one fetch left
  EXPECT_EQ(service_->OnConfigFetch(token, kCpIp).kind, ConfigAnswer::Kind::kServed);
  EXPECT_EQ(service_->OnConfigFetch(token, kCpIp).why, "config fetch from 10.66.0.50 refused: used-up");
  // Used up: the next /ipxe issues a new token.
  EXPECT_NE(TokenOf(Ipxe(kCp, kCpIp)), token);
}

TEST_F(ProvisioningServiceTest, ANewKeyInvalidatesOutstandingTokens) {
  const std::string token = TokenOf(Ipxe(kCp, kCpIp));
  ProvisioningOptions o;
  o.token_key = KeyOf(8);
  OpenService(o);
  EXPECT_EQ(service_->OnConfigFetch(token, kCpIp).kind, ConfigAnswer::Kind::kRefused);
}

TEST_F(ProvisioningServiceTest, FullDhcpModeServesTheInstallerOnlyToTheLeasedAddress) {
  Reconfigure([](AppConfig& c) { c.dhcp.mode = DhcpMode::kFull; });
  EXPECT_EQ(Ipxe(kCp, kCpIp).kind, IpxeAnswer::Kind::kRefused) << "no lease yet";
  service_->OnDhcp({kCp, kCpIp, BootClientFromDhcp(7, "PXEClient:Arch:00007:UNDI:003016", false),
                    "PXEClient:Arch:00007:UNDI:003016", ""});
  const IpxeAnswer wrong = Ipxe(kCp, kOther);
  EXPECT_EQ(wrong.kind, IpxeAnswer::Kind::kRefused);
  EXPECT_EQ(wrong.why, "installer refused to 10.66.0.77: that MAC holds 10.66.0.50");
  const std::string token = TokenOf(Ipxe(kCp, kCpIp));
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(service_->OnConfigFetch(token, kOther).why, "config fetch from 10.66.0.77 refused: wrong-ip");
  // The installer's own DHCP moved the machine to another address in the same boot.
  service_->OnDhcp({kCp, kOther, BootClient{}, "udhcp 1.35.0", ""});
  EXPECT_EQ(service_->OnConfigFetch(token, kOther).kind, ConfigAnswer::Kind::kServed);
}

TEST_F(ProvisioningServiceTest, DhcpAndIpxeAgreeOnUnknownMachines) {
  const MacAddress stranger = *MacAddress::Parse("52:54:00:00:00:99");
  const BootClient uefi = BootClientFromDhcp(7, "PXEClient:Arch:00007:UNDI:003016", false);
  Reconfigure([](AppConfig& c) { c.boot.unknown_machines = UnknownMachinePolicy::kIgnore; });
  EXPECT_FALSE(service_->LoaderFor(uefi, stranger).answer);
  EXPECT_EQ(Ipxe(stranger, kOther).kind, IpxeAnswer::Kind::kIgnore);
  EXPECT_FALSE(service_->registry().Get(stranger));

  Reconfigure([](AppConfig& c) { c.boot.unknown_machines = UnknownMachinePolicy::kDiscover; });
  EXPECT_EQ(service_->LoaderFor(uefi, stranger).answer->boot_file, "snponly.efi");
  EXPECT_EQ(Ipxe(stranger, kOther).kind, IpxeAnswer::Kind::kDiscover);
  EXPECT_EQ(service_->registry().StateOf(stranger), MachineState::kDiscovered);

  Reconfigure([](AppConfig& c) { c.boot.unknown_machines = UnknownMachinePolicy::kAutoInstall; });
  const IpxeAnswer auto_install = Ipxe(stranger, kOther);
  ASSERT_EQ(auto_install.kind, IpxeAnswer::Kind::kInstall);
  EXPECT_EQ(auto_install.machine_name, "node-525400000099");
  EXPECT_EQ(service_->OnConfigFetch(TokenOf(auto_install), kOther).kind, ConfigAnswer::Kind::kServed);
}

TEST_F(ProvisioningServiceTest, Arm64GetsNoBinaryOfAnotherArchitecture) {
  const auto choice = service_->LoaderFor(BootClientFromDhcp(11, "PXEClient:Arch:00011:UNDI:003016", false), kCp);
  EXPECT_FALSE(choice.answer);
  EXPECT_EQ(choice.why, "no arm64/ipxe.efi in tftpRoot for uefi arm64");
}

TEST_F(ProvisioningServiceTest, Arm64IpxeIsNotHandedAnAmd64Kernel) {
  // An arm64 iPXE (built by the operator) reaches /ipxe for a machine whose
  // profile is amd64: no kernel, no token, and the reason in its history.
  const IpxeAnswer a = service_->OnIpxe({kCp, kCpIp, "", "", "arm64", "efi"});
  EXPECT_EQ(a.kind, IpxeAnswer::Kind::kIgnore);
  EXPECT_TRUE(a.kernel_args.empty());
  EXPECT_EQ(a.why,
            "no installer offered: the profile's kernel is amd64, this machine runs uefi arm64 (profile default)");
  EXPECT_NE(service_->registry().StateOf(kCp), MachineState::kInstalling);
  // The same machine's x86_64 iPXE is served as before.
  EXPECT_EQ(Ipxe(kCp, kCpIp).kind, IpxeAnswer::Kind::kInstall);
}

TEST_F(ProvisioningServiceTest, AFloodOfMadeUpMacsCannotPushOutRealHistory) {
  ProvisioningOptions o;
  o.registry.max_unknown_machines = 50;
  OpenService(o);
  Ipxe(kCp, kCpIp);  // the real machine's history
  const std::size_t real = StoredEvents();
  for (std::uint32_t i = 0; i < 2000; ++i) {
    MacAddress m = *MacAddress::Parse("02:00:00:00:00:00");
    m.bytes[3] = static_cast<std::uint8_t>(i >> 16);
    m.bytes[4] = static_cast<std::uint8_t>(i >> 8);
    m.bytes[5] = static_cast<std::uint8_t>(i);
    Ipxe(m, kOther);
    service_->OnDhcp({m, std::nullopt, BootClientFromDhcp(7, "PXEClient:Arch:00007:UNDI:003016", false), "", ""});
  }
  EXPECT_EQ(service_->registry().List().size(), 1u + 50u);
  EXPECT_EQ(service_->registry().unknown_machines_dropped(), 2 * (2000u - 50u));
  EXPECT_EQ(StoredEvents(), real + 50u);  // one "discovered" each, nothing more
  const auto events = service_->registry().RecentEvents(0, 100000);
  EXPECT_EQ(std::count_if(events.begin(), events.end(), [](const EventRecord& e) { return e.machine == "cp-1"; }),
            static_cast<long>(real));
}

TalosEvent Seq(const char* name, const char* action, Ipv4Address peer) {
  TalosEvent e;
  e.peer = peer;
  e.type = kTalosSequenceEvent;
  e.known_type = true;
  e.name = name;
  e.action = action;
  return e;
}

TEST_F(ProvisioningServiceTest, TalosEventsMoveTheMachineAndTheNextBootIsFromDisk) {
  Reconfigure([](AppConfig& c) { c.dhcp.mode = DhcpMode::kFull; });
  service_->OnDhcp({kCp, kCpIp, BootClientFromDhcp(7, "PXEClient:Arch:00007:UNDI:003016", false), "", ""});
  const std::string token = TokenOf(Ipxe(kCp, kCpIp));
  ASSERT_EQ(service_->OnConfigFetch(token, kCpIp).kind, ConfigAnswer::Kind::kServed);
  service_->OnTalosEvent(Seq("install", "START", kCpIp));
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kInstalling);
  service_->OnTalosEvent(Seq("install", "STOP", kCpIp));
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kInstalled);
  const IpxeAnswer next = Ipxe(kCp, kCpIp);
  EXPECT_EQ(next.kind, IpxeAnswer::Kind::kBootFromDisk);
  EXPECT_EQ(service_->LogKeyFor(kCpIp), "cp-1");
  EXPECT_EQ(service_->LogKeyFor(kOther), "");
  // An event from an address no machine holds changes nothing.
  service_->OnTalosEvent(Seq("install", "START", kOther));
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kInstalled);
}

// --- reinstall jobs, with a power control that records what it is asked and
// a scheduler the test advances by hand --------------------------------------

class RecordingPower final : public PowerControl {
 public:
  Result<Ability> AbilityOf(const MachineConfig& m) override {
    if (!m.bmc) return Status{ErrorCode::kFailedPrecondition, "machine " + m.name + " has no bmc in the inventory"};
    return rescue ? Ability{true, true, "hetzner-robot"} : Ability{true, false, "ipmi"};
  }
  void Reinstall(const MachineConfig& m, const ReinstallPowerPlan& plan,
                 std::function<void(Result<ReinstallReached>)> done) override {
    if (plan.kexec) kexec_command_line = plan.kexec->command_line;
    if (plan.image)
      calls.push_back(m.name + " image " + plan.image->profile.name + " to " + plan.image->install_disk);
    else if (plan.kexec)
      calls.push_back(m.name + " kexec " + plan.kexec->kernel_url);
    else
      calls.push_back(m.name + (plan.efi ? " efi" : " legacy"));
    pending.push_back(std::move(done));
  }
  void Act(const MachineConfig&, PowerAction action, std::function<void(Result<std::string>)> done) override {
    calls.push_back(std::string(PowerActionName(action)));
    done(std::string("on"));
  }
  bool rescue = false;  // a Hetzner Robot machine: reinstalls through the rescue system
  std::vector<std::string> calls;
  std::string kexec_command_line;  // the last kexec plan's (a secret when it carries a token)
  std::vector<std::function<void(Result<ReinstallReached>)>> pending;
};

class ManualScheduler final : public Scheduler {
 public:
  struct H : Handle {
    explicit H(std::shared_ptr<bool> live) : live(std::move(live)) {}
    ~H() override { *live = false; }
    std::shared_ptr<bool> live;
  };
  std::unique_ptr<Handle> After(std::chrono::milliseconds, std::function<void()> fn) override {
    auto live = std::make_shared<bool>(true);
    timers.emplace_back(live, std::move(fn));
    return std::make_unique<H>(live);
  }
  // Fires every live timer set so far.
  void Fire() {
    auto due = std::move(timers);
    timers.clear();
    for (auto& [live, fn] : due)
      if (*live) fn();
  }
  std::vector<std::pair<std::shared_ptr<bool>, std::function<void()>>> timers;
};

class ReinstallServiceTest : public ProvisioningServiceTest {
 protected:
  void SetUp() override {
    ProvisioningServiceTest::SetUp();
    Reconfigure([](AppConfig& c) {
      auto inv = std::make_shared<Inventory>(*c.inventory);
      inv->machines[0].bmc = BmcConfig{};
      c.inventory = inv;
      c.power.attempts = 2;
      c.power.min_interval = std::chrono::seconds(0);
    });
    service_.reset();
    service_ = std::make_unique<ProvisioningService>(*source_, store_.get(), Options(), &power_, &scheduler_);
    ASSERT_TRUE(service_->Load().ok());
  }
  ProvisioningOptions Options() {
    ProvisioningOptions o;
    o.token_key = KeyOf(7);
    o.loader_exists = [](std::string_view) { return true; };
    return o;
  }
  // cp-1 behind the Robot (rescue system, no DHCP of ours, no inventory
  // address), its config by apply.
  void MakeCp1AHetznerServerConfiguredByApply() {
    power_.rescue = true;
    Reconfigure([](AppConfig& c) {
      auto inv = std::make_shared<Inventory>(*c.inventory);
      inv->machines[0].bmc->type = BmcType::kHetznerRobot;
      inv->machines[0].config_delivery = ConfigDelivery::kApply;
      inv->machines[0].ip.reset();
      c.inventory = inv;
    });
  }
  RecordingPower power_;
  ManualScheduler scheduler_;
};

TEST_F(ReinstallServiceTest, ServedInstallerEndsTheJobAndCarriesTheWipe) {
  ASSERT_TRUE(service_->RequestReinstall(kCp, /*wipe=*/true).ok());
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kReinstallRequested);
  ASSERT_EQ(power_.calls, std::vector<std::string>{"cp-1 efi"});  // never seen booting: UEFI
  power_.pending.front()(ReinstallReached{});
  ASSERT_EQ(scheduler_.timers.size(), 1u);
  const IpxeAnswer a = Ipxe(kCp, kCpIp);
  EXPECT_NE(std::find(a.kernel_args.begin(), a.kernel_args.end(), "talos.experimental.wipe=system"),
            a.kernel_args.end());
  scheduler_.Fire();  // the deadline was cancelled by the served installer
  EXPECT_EQ(power_.calls.size(), 1u);
  EXPECT_EQ(service_->power_actions_ok(), 1u);
  // The wipe went into that script only.
  const IpxeAnswer again = Ipxe(kCp, kCpIp);
  EXPECT_EQ(std::find(again.kernel_args.begin(), again.kernel_args.end(), "talos.experimental.wipe=system"),
            again.kernel_args.end());
}

TEST_F(ReinstallServiceTest, NoPxeBootWithinTheTimeoutRetriesThenFailsWithAReason) {
  service_->OnDhcp({kCp, kCpIp, BootClientFromDhcp(0, "PXEClient:Arch:00000:UNDI:002001", false), "", ""});
  ASSERT_TRUE(service_->RequestReinstall(kCp, false).ok());
  power_.pending.at(0)(ReinstallReached{});
  scheduler_.Fire();
  ASSERT_EQ(power_.calls, (std::vector<std::string>{"cp-1 legacy", "cp-1 legacy"}));  // seen booting BIOS
  power_.pending.at(1)(ReinstallReached{});
  scheduler_.Fire();
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kFailed);
  EXPECT_EQ(service_->registry().Get(kCp)->reason, "no PXE boot within 600s after 2 power cycles");
}

TEST_F(ReinstallServiceTest, APowerFailureIsTheMachinesReason) {
  ASSERT_TRUE(service_->RequestReinstall(kCp, false).ok());
  power_.pending.at(0)(Status{ErrorCode::kPermissionDenied, "authentication failed: bad password"});
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kFailed);
  EXPECT_EQ(service_->registry().Get(kCp)->reason, "authentication failed: bad password");
  EXPECT_EQ(service_->power_actions_failed(), 1u);
}

TEST_F(ReinstallServiceTest, ThroughTheRescueSystemTheDriversSuccessIsTheInstallerReachingTheMachine) {
  // installMethod image: the driver wrote the image and reset the server; no
  // PXE fetch will ever mark it, so the job must end here (else every
  // deadline would reset the server into rescue again).
  power_.rescue = true;
  Reconfigure([](AppConfig& c) {
    auto inv = std::make_shared<Inventory>(*c.inventory);
    inv->machines[0].bmc->type = BmcType::kHetznerRobot;
    inv->machines[0].install_disk = "/dev/disk/by-id/nvme-X";
    c.inventory = inv;
  });
  ASSERT_TRUE(service_->RequestReinstall(kCp, false).ok());
  ASSERT_EQ(power_.calls, std::vector<std::string>{"cp-1 image default to /dev/disk/by-id/nvme-X"});
  power_.pending.at(0)(ReinstallReached{});
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kPendingInstall);
  EXPECT_TRUE(scheduler_.timers.empty());  // no PXE deadline armed
  scheduler_.Fire();
  EXPECT_EQ(power_.calls.size(), 1u);
  EXPECT_EQ(service_->power_actions_ok(), 1u);

  // installMethod kexec: the same ending, the installer kexec'd.
  Reconfigure([](AppConfig& c) {
    auto inv = std::make_shared<Inventory>(*c.inventory);
    inv->machines[0].bmc->install_method = InstallMethod::kKexec;
    c.inventory = inv;
  });
  ASSERT_TRUE(service_->RequestReinstall(kCp, false).ok());
  ASSERT_EQ(power_.calls.size(), 2u);
  EXPECT_EQ(power_.calls[1].rfind("cp-1 kexec http://10.66.0.1:8080/", 0), 0u) << power_.calls[1];
  power_.pending.at(1)(ReinstallReached{});
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kPendingInstall);
  EXPECT_TRUE(scheduler_.timers.empty());
}

TEST_F(ReinstallServiceTest, ARescueImageWithConfigByApplyWaitsWhereThePowerSideFoundTheMachine) {
  // A Hetzner server is never seen by our DHCP: the address Robot lists for
  // it is where it is now, and where configDelivery apply sends the config.
  MakeCp1AHetznerServerConfiguredByApply();
  ASSERT_TRUE(service_->RequestReinstall(kCp, false).ok());
  EXPECT_TRUE(service_->ConfigApplyTargets().empty());
  ReinstallReached at;
  at.address = *Ipv4Address::Parse("203.0.113.21");
  at.address_source = "Hetzner Robot's address of server 321";
  power_.pending.at(0)(at);
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kPendingInstall);
  ASSERT_TRUE(service_->registry().AddressOf(kCp).has_value());
  EXPECT_EQ(service_->registry().AddressOf(kCp)->ToString(), "203.0.113.21");
  auto targets = service_->ConfigApplyTargets();
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].machine, "cp-1");
  EXPECT_EQ(targets[0].address.ToString(), "203.0.113.21");
  bool told = false;
  for (const auto& e : service_->registry().RecentEvents(0, 1000))
    told |= e.message.find("config by apply to 203.0.113.21 (Hetzner Robot's address of server 321)") !=
            std::string::npos;
  EXPECT_TRUE(told);
  service_->OnConfigApplied(kCp, targets[0].address, "no_reboot");
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kInstalling);
  EXPECT_TRUE(service_->ConfigApplyTargets().empty());

  // The inventory's ip wins (an additional address routed to the server).
  Reconfigure([](AppConfig& c) {
    auto inv = std::make_shared<Inventory>(*c.inventory);
    inv->machines[0].ip = *Ipv4Address::Parse("203.0.113.99");
    c.inventory = inv;
  });
  ASSERT_TRUE(service_->RequestReinstall(kCp, false).ok());
  power_.pending.at(1)(at);
  targets = service_->ConfigApplyTargets();
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].address.ToString(), "203.0.113.99");

  // Nobody knows where it is: nothing to apply to, and the machine says so.
  Reconfigure([](AppConfig& c) {
    auto inv = std::make_shared<Inventory>(*c.inventory);
    inv->machines[0].ip.reset();
    c.inventory = inv;
  });
  ASSERT_TRUE(service_->RequestReinstall(kCp, false).ok());
  power_.pending.at(2)(ReinstallReached{});
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kFailed);
  EXPECT_NE(service_->registry().Get(kCp)->reason.find("configDelivery apply has no address"), std::string::npos)
      << service_->registry().Get(kCp)->reason;
}

TEST_F(ReinstallServiceTest, AnApplyTargetSurvivesARestartUntilItsConfigIsApplied) {
  // metalpxed restarts after the image is written and before the config is
  // applied: the machine is still a target afterwards (from the store), so
  // the cluster driver still applies its config; once applied, it is not.
  MakeCp1AHetznerServerConfiguredByApply();
  ASSERT_TRUE(service_->RequestReinstall(kCp, false).ok());
  ReinstallReached at;
  at.address = *Ipv4Address::Parse("203.0.113.21");
  at.address_source = "Hetzner Robot's address of server 321";
  power_.pending.at(0)(at);
  ASSERT_EQ(service_->ConfigApplyTargets().size(), 1u);
  auto restart = [&] {
    service_.reset();
    ASSERT_TRUE(store_->Flush().ok());
    service_ = std::make_unique<ProvisioningService>(*source_, store_.get(), Options(), &power_, &scheduler_);
    ASSERT_TRUE(service_->Load().ok());
  };
  restart();
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kPendingInstall);
  auto targets = service_->ConfigApplyTargets();
  ASSERT_EQ(targets.size(), 1u) << "the restart lost the target";
  EXPECT_EQ(targets[0].mac, kCp);
  EXPECT_EQ(targets[0].machine, "cp-1");
  EXPECT_EQ(targets[0].address.ToString(), "203.0.113.21");
  service_->OnConfigApplied(kCp, targets[0].address, "no_reboot");
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kInstalling);
  restart();
  EXPECT_TRUE(service_->ConfigApplyTargets().empty());
  EXPECT_TRUE(store_->LoadApplyTargets()->empty()) << "applied: deleted from the store";

  // A target whose machine moved on while metalpxed was down (here: failed
  // by hand in the store) is dropped at load, from memory and store.
  ASSERT_TRUE(service_->RequestReinstall(kCp, false).ok());
  power_.pending.at(1)(at);
  ASSERT_EQ(service_->ConfigApplyTargets().size(), 1u);
  service_.reset();
  ASSERT_TRUE(store_->Flush().ok());
  auto machines = store_->LoadMachines();
  ASSERT_TRUE(machines.ok());
  ASSERT_EQ(machines->size(), 1u);
  MachineRecord failed = machines->front();
  failed.state = MachineState::kFailed;
  store_->PutMachine(failed, nullptr);
  ASSERT_TRUE(store_->Flush().ok());
  service_ = std::make_unique<ProvisioningService>(*source_, store_.get(), Options(), &power_, &scheduler_);
  ASSERT_TRUE(service_->Load().ok());
  EXPECT_TRUE(service_->ConfigApplyTargets().empty());
  ASSERT_TRUE(store_->Flush().ok());
  EXPECT_TRUE(store_->LoadApplyTargets()->empty());
}

TEST_F(ReinstallServiceTest, ARescueReinstallInterruptedByARestartFailsWithAReason) {
  // metalpxed stops while the rescue system is being driven (nothing
  // written yet): after the restart nobody drives it and no PXE boot comes,
  // so it fails with a reason instead of staying reinstall-requested.
  power_.rescue = true;
  Reconfigure([](AppConfig& c) {
    auto inv = std::make_shared<Inventory>(*c.inventory);
    inv->machines[0].bmc->type = BmcType::kHetznerRobot;
    inv->machines[0].config_delivery = ConfigDelivery::kApply;
    c.inventory = inv;
  });
  ASSERT_TRUE(service_->RequestReinstall(kCp, false).ok());
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kReinstallRequested);
  service_.reset();
  ASSERT_TRUE(store_->Flush().ok());
  service_ = std::make_unique<ProvisioningService>(*source_, store_.get(), Options(), &power_, &scheduler_);
  ASSERT_TRUE(service_->Load().ok());
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kFailed);
  EXPECT_NE(service_->registry().Get(kCp)->reason.find("interrupted: metalpxed stopped during the reinstall"),
            std::string::npos)
      << service_->registry().Get(kCp)->reason;
  // And it can be requested again.
  ASSERT_TRUE(service_->RequestReinstall(kCp, false).ok());
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kReinstallRequested);
}

TEST_F(ReinstallServiceTest, APxeReinstallAcrossARestartWaitsForItsPxeBoot) {
  // Through a BMC and PXE the machine still boots into the installer after
  // a restart: it stays reinstall-requested until it is served.
  ASSERT_TRUE(service_->RequestReinstall(kCp, false).ok());
  service_.reset();
  ASSERT_TRUE(store_->Flush().ok());
  service_ = std::make_unique<ProvisioningService>(*source_, store_.get(), Options(), &power_, &scheduler_);
  ASSERT_TRUE(service_->Load().ok());
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kReinstallRequested);
  const IpxeAnswer a = Ipxe(kCp, kCpIp);
  ASSERT_EQ(a.kind, IpxeAnswer::Kind::kInstall) << a.why;
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kPendingInstall);
}

TEST_F(ReinstallServiceTest, AnInstallByUrlEndsAnEarlierApplyTarget) {
  // A reinstall by apply that never got its config, then the machine
  // PXE-boots with configDelivery url: no config is pushed at that boot.
  power_.rescue = true;
  Reconfigure([](AppConfig& c) {
    auto inv = std::make_shared<Inventory>(*c.inventory);
    inv->machines[0].bmc->type = BmcType::kHetznerRobot;
    inv->machines[0].config_delivery = ConfigDelivery::kApply;
    c.inventory = inv;
  });
  ASSERT_TRUE(service_->RequestReinstall(kCp, false).ok());
  ReinstallReached at;
  at.address = *Ipv4Address::Parse("203.0.113.21");
  power_.pending.at(0)(at);
  ASSERT_EQ(service_->ConfigApplyTargets().size(), 1u);
  Reconfigure([](AppConfig& c) {
    auto inv = std::make_shared<Inventory>(*c.inventory);
    inv->machines[0].config_delivery = ConfigDelivery::kUrl;
    c.inventory = inv;
  });
  const IpxeAnswer a = Ipxe(kCp, kCpIp);
  ASSERT_EQ(a.kind, IpxeAnswer::Kind::kInstall) << a.why;
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kPendingInstall);
  EXPECT_TRUE(service_->ConfigApplyTargets().empty());
  ASSERT_TRUE(store_->Flush().ok());
  EXPECT_TRUE(store_->LoadApplyTargets()->empty());
}

TEST_F(ReinstallServiceTest, KexecWithConfigByApplyPutsNoConfigUrlOnTheWire) {
  // installMethod kexec to a Hetzner server: a config URL would carry the
  // config across the internet in plaintext. With apply there is none; the
  // installer waits in maintenance mode at the server's address.
  power_.rescue = true;
  Reconfigure([](AppConfig& c) {
    auto inv = std::make_shared<Inventory>(*c.inventory);
    inv->machines[0].bmc->type = BmcType::kHetznerRobot;
    inv->machines[0].bmc->install_method = InstallMethod::kKexec;
    inv->machines[0].ip.reset();
    c.inventory = inv;
  });
  ASSERT_TRUE(service_->RequestReinstall(kCp, false).ok());
  EXPECT_NE(power_.kexec_command_line.find("talos.config="), std::string::npos) << "configDelivery url: the token";
  power_.pending.at(0)(ReinstallReached{});
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kPendingInstall);

  Reconfigure([](AppConfig& c) {
    auto inv = std::make_shared<Inventory>(*c.inventory);
    inv->machines[0].config_delivery = ConfigDelivery::kApply;
    c.inventory = inv;
  });
  ASSERT_TRUE(service_->RequestReinstall(kCp, false).ok());
  EXPECT_EQ(power_.kexec_command_line.find("talos.config="), std::string::npos) << power_.kexec_command_line;
  EXPECT_NE(power_.kexec_command_line.find("talos.platform=metal"), std::string::npos) << power_.kexec_command_line;
  ReinstallReached at;
  at.address = *Ipv4Address::Parse("203.0.113.21");
  at.address_source = "Hetzner Robot's address of server 321";
  power_.pending.at(1)(at);
  auto targets = service_->ConfigApplyTargets();
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].address.ToString(), "203.0.113.21");
}

TEST_F(ReinstallServiceTest, RefusedWithoutABmcOrTooSoon) {
  Reconfigure([](AppConfig& c) { c.power.min_interval = std::chrono::seconds(30); });
  ASSERT_TRUE(service_->RequestReinstall(kCp, false).ok());
  const Status again = service_->RequestReinstall(kCp, false);
  EXPECT_EQ(again.code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(again.message().find("try again in"), std::string::npos) << again.message();
  EXPECT_EQ(service_->RequestReinstall(*MacAddress::Parse("52:54:00:00:00:99"), false).code(),
            ErrorCode::kNotFound);
}

}  // namespace
}  // namespace metalpxe

namespace metalpxe {
namespace {

// IPv6: the machine's DHCPv6 lease (told by the DHCPv6 server's
// observations) binds its installer, its config token, and names it for the
// event sink, the kernel-log receiver and the TFTP/HTTP timeline.
class ProvisioningServiceIpv6Test : public ProvisioningServiceTest {
 protected:
  const Ipv6Address kLease6 = *Ipv6Address::Parse("fd00:66::150");
  const Ipv6Address kOther6 = *Ipv6Address::Parse("fd00:66::177");

  void SetUp() override {
    ProvisioningServiceTest::SetUp();
    Reconfigure([](AppConfig& c) {
      c.server.address6 = *Ipv6Address::Parse("fd00:66::1");
      c.dhcp.mode = DhcpMode::kOff;
      c.dhcp6.mode = DhcpMode::kFull;
    });
  }
  void Dhcp6Reply(const MacAddress& mac, const Ipv6Address& bound) {
    DhcpSighting d;
    d.mac = mac;
    d.client = BootClientFromIpxe("x86_64", "efi");
    d.received = "DHCPv6 REQUEST";
    d.replied = "REPLY";
    d.leased6 = bound;
    d.leased6_until = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count() + 3600;
    service_->OnDhcp(d);
  }
  IpxeAnswer Ipxe6(const MacAddress& mac, const Ipv6Address& peer) {
    IpxeRequest r{mac, Ipv4Address{}, "4c4c4544-0031", "SN1", "x86_64", "efi", IpFamily::kIpv6};
    r.peer6 = peer;
    return service_->OnIpxe(r);
  }
  static std::string Token6Of(const IpxeAnswer& a) {
    const std::string prefix = "talos.config=http://[fd00:66::1]:8080/config/";
    for (const auto& arg : a.kernel_args)
      if (arg.rfind(prefix, 0) == 0) return arg.substr(prefix.size());
    return "";
  }
};

TEST_F(ProvisioningServiceIpv6Test, TokenIsBoundToTheDhcpv6LeaseAndAnotherAddressIsRefused) {
  Dhcp6Reply(kCp, kLease6);
  EXPECT_EQ(service_->Ipv6LeaseOf(kCp), kLease6);
  // The installer goes only to the leased address.
  const IpxeAnswer refused = Ipxe6(kCp, kOther6);
  EXPECT_EQ(refused.kind, IpxeAnswer::Kind::kRefused);
  EXPECT_EQ(refused.why, "installer refused to fd00:66::177: that MAC holds fd00:66::150");

  const IpxeAnswer a = Ipxe6(kCp, kLease6);
  ASSERT_EQ(a.kind, IpxeAnswer::Kind::kInstall) << a.why;
  const std::string args = JoinArgs(a.kernel_args);
  EXPECT_NE(args.find("talos.events.sink=[fd00:66::1]:50101"), std::string::npos) << args;
  EXPECT_NE(args.find("talos.logging.kernel=tcp://[fd00:66::1]:50102"), std::string::npos) << args;
  const std::string token = Token6Of(a);
  ASSERT_EQ(token.size(), kTokenChars6) << args;

  EXPECT_EQ(service_->OnConfigFetch(token, kOther6).kind, ConfigAnswer::Kind::kRefused);
  EXPECT_EQ(service_->OnConfigFetch(token, kOther).kind, ConfigAnswer::Kind::kRefused) << "IPv4 peer";
  const ConfigAnswer c = service_->OnConfigFetch(token, kLease6);
  ASSERT_EQ(c.kind, ConfigAnswer::Kind::kServed) << c.why;
  EXPECT_NE(c.yaml.find("hostname: cp-1"), std::string::npos);
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kInstalling);
  EXPECT_EQ(service_->counters().configs_refused.load(), 3u);  // the installer once, the config twice
}

TEST_F(ProvisioningServiceIpv6Test, WithoutADhcpv6LeaseTheTokenIsBoundToTheMacOnly) {
  const IpxeAnswer a = Ipxe6(kCp, kOther6);  // SLAAC or another server's address: not ours to vouch for
  ASSERT_EQ(a.kind, IpxeAnswer::Kind::kInstall) << a.why;
  const std::string token = Token6Of(a);
  ASSERT_EQ(token.size(), kTokenChars);
  EXPECT_FALSE(VerifyToken(token, KeyOf(7))->bound_ip6);
  EXPECT_EQ(service_->OnConfigFetch(token, kLease6).kind, ConfigAnswer::Kind::kServed);
}

TEST_F(ProvisioningServiceIpv6Test, FetchesEventsAndKernelLogsOverIpv6AreTheMachinesByItsLease) {
  Dhcp6Reply(kCp, kLease6);
  service_->OnTftpFetch(kLease6, {"snponly.efi", 10, {}, 0, 0, 0, true, ""});
  const IpxeAnswer a = Ipxe6(kCp, kLease6);
  ASSERT_EQ(a.kind, IpxeAnswer::Kind::kInstall);
  service_->OnHttpFileFetch(kLease6, {"/assets/profiles/default/vmlinuz", 200, 1000, std::chrono::milliseconds(10), true});
  ASSERT_EQ(service_->OnConfigFetch(Token6Of(a), kLease6).kind, ConfigAnswer::Kind::kServed);
  service_->OnKernelLog(kLease6, "Linux version 6.6.52-talos");
  EXPECT_EQ(service_->LogKeyFor(kLease6), "cp-1");
  EXPECT_EQ(service_->LogKeyFor(kOther6), "");
  TalosEvent ev;
  ev.peer6 = kLease6;
  ev.type = kTalosSequenceEvent;
  ev.name = "install";
  ev.action = "STOP";
  service_->OnTalosEvent(ev);
  EXPECT_EQ(service_->registry().StateOf(kCp), MachineState::kInstalled);
  // Someone else's IPv6 address: not this machine's story.
  service_->OnTftpFetch(kOther6, {"ipxe.efi", 10, {}, 0, 0, 0, true, ""});
  TalosEvent stranger = ev;
  stranger.peer6 = kOther6;
  service_->OnTalosEvent(stranger);

  std::vector<std::string> lines;
  for (const auto& e : service_->timeline().Entries(kCp))
    lines.push_back(std::string(TimelineSourceName(e.source)) + ": " + e.summary);
  const std::vector<std::string> expected = {
      "dhcp: DHCP DHCPv6 REQUEST from iPXE (uefi-x86_64) -> REPLY (full)",
      "tftp: TFTP snponly.efi sent, 10 B in 0.00 s",
      "http: HTTP GET /ipxe (uefi-x86_64): install as controlplane",
      "http: HTTP GET kernel /assets/profiles/default/vmlinuz, 1000 B in 0.01 s",
      "http: HTTP GET /config: granted to fd00:66::150",
      "state: pending-install -> installing: config fetched by fd00:66::150",
      "kmsg: kernel started",
      "talos: Talos Sequence install STOP",
      "state: installing -> installed: talos: machine.SequenceEvent install STOP",
  };
  EXPECT_EQ(lines, expected);
  // A release gives the address up: it names nobody any more.
  DhcpSighting release;
  release.mac = kCp;
  release.client = BootClientFromIpxe("x86_64", "efi");
  release.released6 = kLease6;
  service_->OnDhcp(release);
  EXPECT_FALSE(service_->MacForPeer(kLease6));
}

}  // namespace
}  // namespace metalpxe
