// metalpxed installing a machine over IPv6, against real peers in network
// namespaces: ISC dhclient -6 gets the machine's DHCPv6 lease, curl asks
// /ipxe and /config over IPv6 (the config token is bound to that lease: the
// same token from another address of the link, or over IPv4, is refused),
// then the stand-in Talos installer fetches its config over IPv6, streams
// its kernel log to [fd00:66::1]:50102 (kept under the machine's name) and
// publishes the install's events to [fd00:66::1]:50101: the machine ends
// installed. /metrics counts the DHCPv6 exchange.
#include <gtest/gtest.h>

#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/support/netns.h"
#include "tests/support/paths.h"
#include "tests/support/prometheus_check.h"
#include "tests/support/subprocess.h"

namespace metalpxe {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;
using testing::Subprocess;
using testing::VethPair;
using testing::WaitFor;
using namespace std::chrono_literals;

const std::string kCpMac = "52:54:00:12:34:56";
const std::string kOtherAddress = "fd00:66::99";  // another host of the same link

std::string Bin(const std::string& rel) { return testing::BinaryDir() + "/" + rel; }
std::string Src(const std::string& rel) { return testing::SourceDir() + "/" + rel; }

std::string ReadText(const fs::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

class ApplianceIpv6It : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/usr/sbin/dhclient", X_OK) != 0) GTEST_SKIP() << "needs ISC dhclient";
    dir_ = fs::temp_directory_path() / ("mpx-appliance6-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "talos");
    std::ofstream(dir_ / "vmlinuz") << std::string(300000, 'k');
    std::ofstream(dir_ / "initramfs.xz") << std::string(500000, 'i');
    fs::copy(Src("deploy/examples/talos"), dir_ / "talos", fs::copy_options::recursive);
    std::ofstream(dir_ / "metalpxe.yaml") << R"(server:
  interface: veth-s
  address: 10.66.0.1
  address6: fd00:66::1
  stateDir: )" << (dir_ / "state").string() << R"(
  tftpRoot: /usr/lib/ipxe
dhcp:
  mode: off
dhcp6:
  mode: full
  subnets:
    - subnet: fd00:66::/64
      pool: fd00:66::100-fd00:66::1ff
      leaseTime: 10m
boot:
  unknownMachines: discover
profiles:
  default:
    kernel: vmlinuz
    initramfs: initramfs.xz
    configs:
      controlplane: talos/controlplane.yaml
      worker: talos/worker.yaml
inventory: machines.yaml
)";
    std::ofstream(dir_ / "machines.yaml") << "machines:\n"
                                             "  - name: cp-1\n    macs: [\"" + kCpMac + "\"]\n"
                                             "    role: controlplane\n    installDisk: /dev/vda\n";
    net_ = std::make_unique<VethPair>("ap6", "10.66.0.1/24", "");
    net_->server.Ip({"addr", "add", "fd00:66::1/64", "dev", "veth-s", "nodad"});
    // The machine's NIC: its MAC, and its link-local address out of DAD
    // (dhclient sends from it).
    net_->client.Ip({"link", "set", "veth-c", "down"});
    net_->client.Ip({"link", "set", "veth-c", "address", kCpMac});
    net_->client.Ip({"link", "set", "veth-c", "up"});
    ASSERT_TRUE(WaitFor(
        [&] {
          const std::string ll = net_->client.Sh("ip -6 addr show dev veth-c scope link");
          return ll.find("fe80::") != std::string::npos && ll.find("tentative") == std::string::npos;
        },
        10s));
    daemon_ = std::make_unique<Subprocess>(
        Subprocess::Start({Bin("daemon/metalpxed"), "--config", (dir_ / "metalpxe.yaml").string()},
                          net_->server.name()));
    ASSERT_TRUE(WaitFor([&] { return Curl("http://10.66.0.1:8080/boot.ipxe", "", "", true).exit_code == 0; }, 20s))
        << daemon_->Describe();
    // The management API starts last: once its client config exists, every module is up.
    ASSERT_TRUE(WaitFor([&] { return fs::exists(dir_ / "state" / "pki" / "admin.metalpxeconfig"); }, 20s))
        << daemon_->Describe();
  }

  void TearDown() override {
    const std::string pid = dir_.empty() ? "" : ReadText(dir_ / "dhclient6.pid");
    if (!pid.empty()) kill(std::stoi(pid), SIGKILL);
    if (daemon_) {
      daemon_->Kill(SIGTERM);
      EXPECT_EQ(daemon_->Wait(10s), 0) << daemon_->Describe();
    }
    daemon_.reset();
    net_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // curl from the machine (source `from`, "" for the kernel's choice), or
  // from the server's namespace.
  testing::CommandResult Curl(const std::string& url, const std::string& from, const std::string& fmt = "",
                              bool on_server = false) {
    std::vector<std::string> argv{"curl", "-sS", "-g", "--max-time", "10"};
    if (!from.empty()) argv.insert(argv.end(), {"--interface", from});
    if (!fmt.empty()) argv.insert(argv.end(), {"-o", "/dev/null", "-w", fmt});
    argv.push_back(url);
    return RunCommand(argv, 15s, on_server ? net_->server.name() : net_->client.name());
  }

  // dhclient -6 as the machine's installer would ask (DUID-LLT: the MAC is
  // read from it); its hook puts the leased address on the link.
  std::string Lease6() {
    std::ofstream(dir_ / "hook.sh") << "#!/bin/sh\n"
                                       "case \"$reason\" in BOUND6|RENEW6|REBIND6)\n"
                                       "  ip -6 addr add \"$new_ip6_address/64\" dev \"$interface\" nodad\n"
                                       "  echo \"$new_ip6_address\" > " << (dir_ / "lease6").string() << " ;;\n"
                                       "esac\nexit 0\n";
    fs::permissions(dir_ / "hook.sh", fs::perms::owner_all);
    std::ofstream(dir_ / "dhclient6.conf") << "request dhcp6.name-servers;\n";
    auto r = RunCommand({"timeout", "40", "dhclient", "-6", "-1", "-v", "-cf", (dir_ / "dhclient6.conf").string(),
                         "-lf", (dir_ / "dhclient6.leases").string(), "-pf", (dir_ / "dhclient6.pid").string(), "-sf",
                         (dir_ / "hook.sh").string(), "veth-c"},
                        45s, net_->client.name());
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::string lease = ReadText(dir_ / "lease6");
    while (!lease.empty() && (lease.back() == '\n' || lease.back() == ' ')) lease.pop_back();
    return lease;
  }

  std::string Metrics() { return Curl("http://10.66.0.1:8080/metrics", "", "", true).output; }

  fs::path dir_;
  std::unique_ptr<VethPair> net_;
  std::unique_ptr<Subprocess> daemon_;
};

TEST_F(ApplianceIpv6It, InstallOverIpv6WithTheTokenBoundToTheDhcpv6Lease) {
  const std::string lease = Lease6();
  ASSERT_TRUE(std::regex_match(lease, std::regex(R"(fd00:66::1[0-9a-f]{2})"))) << lease;
  net_->client.Ip({"addr", "add", kOtherAddress + "/64", "dev", "veth-c", "nodad"});

  const std::string script_url = "http://[fd00:66::1]:8080/ipxe?mac=52-54-00-12-34-56&uuid=u-1&arch=x86_64";
  // The installer goes only to the address the MAC leases.
  EXPECT_EQ(Curl(script_url, kOtherAddress, "%{http_code}").output, "403");
  const auto script = Curl(script_url, lease);
  ASSERT_EQ(script.exit_code, 0) << script.output;
  ASSERT_NE(script.output.find("# metalpxe: install cp-1 (controlplane)"), std::string::npos) << script.output;
  EXPECT_NE(script.output.find("talos.events.sink=[fd00:66::1]:50101"), std::string::npos) << script.output;
  EXPECT_NE(script.output.find("talos.logging.kernel=tcp://[fd00:66::1]:50102"), std::string::npos) << script.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(script.output, m, std::regex(R"(talos\.config=(http://\[fd00:66::1\]:8080/config/[A-Za-z0-9_-]{68})\s)")))
      << script.output;
  const std::string config_url = m[1].str();

  // The same token from another address of the link, or over IPv4, is refused.
  EXPECT_EQ(Curl(config_url, kOtherAddress, "%{http_code}").output, "403");
  std::string v4_url = config_url;
  v4_url.replace(v4_url.find("[fd00:66::1]"), 12, "10.66.0.1");
  EXPECT_EQ(Curl(v4_url, "", "%{http_code}", true).output, "403");
  const auto config = Curl(config_url, lease);
  ASSERT_EQ(config.exit_code, 0) << config.output;
  EXPECT_NE(config.output.find("hostname: cp-1"), std::string::npos) << config.output;

  // From here the machine has only its lease, and the stand-in Talos
  // installer (the e2e lab's, run here without a VM) takes its kernel
  // arguments: config over IPv6, kernel logs to [fd00:66::1]:50102, the
  // install's events to [fd00:66::1]:50101.
  net_->client.Ip({"addr", "del", kOtherAddress + "/64", "dev", "veth-c"});
  ASSERT_TRUE(std::regex_search(script.output, m, std::regex(R"(\nkernel \S+ ([^\n]+)\n)"))) << script.output;
  const fs::path disk = dir_ / "disk.img";
  std::ofstream(disk).close();
  fs::resize_file(disk, 1 << 20);
  std::ofstream(dir_ / "cmdline") << m[1].str() << " standin.disk=" << disk.string()
                                  << " standin.expect=cp-1/controlplane\n";
  auto standin = RunCommand({Bin("tests/e2e/installer/metalpxe_standin_installer"), (dir_ / "cmdline").string()}, 60s,
                            net_->client.name());
  EXPECT_EQ(standin.exit_code, 0) << standin.output;
  EXPECT_NE(standin.output.find("STANDIN: config is mine"), std::string::npos) << standin.output;
  EXPECT_NE(standin.output.find("STANDIN: install done"), std::string::npos) << standin.output;
  // Its kernel log arrived over IPv6 under the machine's name.
  const fs::path log = dir_ / "state" / "logs" / "cp-1.log";
  ASSERT_TRUE(WaitFor([&] { return ReadText(log).find("installed cp-1 as controlplane") != std::string::npos; }, 10s))
      << daemon_->Describe();
  ASSERT_TRUE(WaitFor(
      [&] { return testing::PrometheusSample(Metrics(), "metalpxe_machines{state=\"installed\"}") == 1; }, 10s))
      << daemon_->Describe();
  EXPECT_NE(Curl(script_url, lease).output.find("is installed, booting from its disk"), std::string::npos);

  // Boot files fetched over IPv6 (a TFTP loader, the profile's kernel over
  // HTTP) are the machine's, by its lease, in its timeline.
  auto tftp = RunCommand({"tftp", "-6", "-m", "binary", "fd00:66::1", "-c", "get", "snponly.efi",
                          (dir_ / "snponly.efi").string()},
                         30s, net_->client.name());
  EXPECT_EQ(tftp.exit_code, 0) << tftp.output;
  EXPECT_EQ(Curl("http://[fd00:66::1]:8080/assets/profiles/default/vmlinuz", lease, "%{http_code} %{size_download}")
                .output,
            "200 300000");
  auto timeline = [&](const std::string& source) {
    return RunCommand({"sqlite3", "-readonly", "-cmd", ".timeout 2000", (dir_ / "state" / "metalpxe.db").string(),
                       "SELECT summary FROM timeline WHERE source = '" + source + "' ORDER BY seq;"},
                      10s)
        .output;
  };
  EXPECT_TRUE(WaitFor([&] { return timeline("tftp").find("TFTP snponly.efi sent") != std::string::npos; }, 10s))
      << timeline("tftp");
  EXPECT_TRUE(WaitFor(
      [&] { return timeline("http").find("HTTP GET kernel /assets/profiles/default/vmlinuz") != std::string::npos; },
      10s))
      << timeline("http");
  EXPECT_NE(timeline("http").find("HTTP GET /config: granted to " + lease), std::string::npos) << timeline("http");

  const std::string metrics = Metrics();
  EXPECT_EQ(testing::CheckPrometheusText(metrics), "") << metrics;
  EXPECT_GE(testing::PrometheusSample(metrics, "metalpxe_dhcp6_received_total{type=\"SOLICIT\"}"), 1) << metrics;
  EXPECT_GE(testing::PrometheusSample(metrics, "metalpxe_dhcp6_received_total{type=\"REQUEST\"}"), 1) << metrics;
  EXPECT_GE(testing::PrometheusSample(metrics, "metalpxe_dhcp6_sent_total{type=\"ADVERTISE\"}"), 1) << metrics;
  EXPECT_GE(testing::PrometheusSample(metrics, "metalpxe_dhcp6_sent_total{type=\"REPLY\"}"), 1) << metrics;
  EXPECT_EQ(testing::PrometheusSample(metrics, "metalpxe_dhcp6_bindings"), 1) << metrics;
  EXPECT_EQ(testing::PrometheusSample(metrics, "metalpxe_configs_total{outcome=\"served\"}"), 2) << metrics;
  EXPECT_EQ(testing::PrometheusSample(metrics, "metalpxe_configs_total{outcome=\"refused\"}"), 3) << metrics;
  // Nothing secret reached the log.
  const std::string token = config_url.substr(config_url.rfind('/') + 1);
  EXPECT_EQ(daemon_->Stderr().find(token), std::string::npos);
}

}  // namespace
}  // namespace metalpxe
