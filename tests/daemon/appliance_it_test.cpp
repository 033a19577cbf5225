// metalpxed as a whole, against real peers in network namespaces: busybox
// udhcpc gets a lease, curl asks /ipxe, the stand-in Talos installer (the
// e2e lab's, run here without a VM) fetches its config, streams kernel logs
// and publishes Talos events; the machine ends installed and its next /ipxe
// answer is boot-from-disk. Failure and refusal paths likewise.
#include <gtest/gtest.h>

#include "tests/support/paths.h"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/support/netns.h"
#include "tests/support/prometheus_check.h"
#include "tests/support/subprocess.h"

namespace metalpxe {
namespace {

namespace fs = std::filesystem;
using testing::NetNs;
using testing::RunCommand;
using testing::Subprocess;
using testing::VethPair;
using testing::WaitFor;

const std::string kCpMac = "52:54:00:12:34:56";
const std::string kWorkerMac = "52:54:00:12:34:57";
const std::string kSbMac = "52:54:00:12:34:58";  // secureBoot uki (profile talos-sb)

std::string Bin(const std::string& rel) { return testing::BinaryDir() + "/" + rel; }
std::string Src(const std::string& rel) { return testing::SourceDir() + "/" + rel; }

class ApplianceIt : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mpx-appliance-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "talos");
    std::ofstream(dir_ / "vmlinuz") << std::string(300000, 'k');
    std::ofstream(dir_ / "initramfs.xz") << std::string(500000, 'i');
    std::ofstream(dir_ / "uki.efi") << "MZ" << std::string(700000, 'u');
    fs::copy(Src("deploy/examples/talos"), dir_ / "talos", fs::copy_options::recursive);
    std::ofstream(dir_ / "metalpxe.yaml") << R"(server:
  interface: veth-s
  address: 10.66.0.1
  stateDir: )" << (dir_ / "state").string() << R"(
  tftpRoot: /usr/lib/ipxe
dhcp:
  mode: full
  subnets:
    - subnet: 10.66.0.0/24
      pool: 10.66.0.100-10.66.0.120
      router: 10.66.0.1
      dns: [10.66.0.1]
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
  talos-sb:
    kernel: vmlinuz
    initramfs: initramfs.xz
    uki: uki.efi
    secureBoot: uki
    configs:
      controlplane: talos/controlplane.yaml
      worker: talos/worker.yaml
inventory: machines.yaml
)";
    std::ofstream(dir_ / "machines.yaml") << "machines:\n"
                                             "  - name: cp-1\n    macs: [\"" + kCpMac + "\"]\n"
                                             "    role: controlplane\n    installDisk: /dev/vda\n"
                                             "  - name: worker-1\n    macs: [\"" + kWorkerMac + "\"]\n"
                                             "    role: worker\n"
                                             "  - name: sb-1\n    macs: [\"" + kSbMac + "\"]\n"
                                             "    role: worker\n    profile: talos-sb\n";
    std::ofstream(dir_ / "udhcpc.script") << "#!/bin/sh\n[ \"$1\" = bound ] && ip addr add $ip/$mask dev $interface\n"
                                             "exit 0\n";
    fs::permissions(dir_ / "udhcpc.script", fs::perms::owner_all);
    net_ = std::make_unique<VethPair>("app", "10.66.0.1/24", "");
    daemon_ = std::make_unique<Subprocess>(
        Subprocess::Start({Bin("daemon/metalpxed"), "--config", (dir_ / "metalpxe.yaml").string()},
                          net_->server.name()));
    ASSERT_TRUE(WaitFor([&] { return Curl(net_->server, "http://10.66.0.1:8080/boot.ipxe").exit_code == 0; },
                        std::chrono::seconds(20)))
        << daemon_->Describe();
    // The management API starts last: once its client config exists, every module is up.
    ASSERT_TRUE(WaitFor([&] { return fs::exists(dir_ / "state" / "pki" / "admin.metalpxeconfig"); },
                        std::chrono::seconds(20)))
        << daemon_->Describe();
  }

  void TearDown() override {
    if (daemon_) {
      daemon_->Kill(SIGTERM);
      EXPECT_EQ(daemon_->Wait(std::chrono::seconds(10)), 0) << daemon_->Describe();
    }
    daemon_.reset();
    net_.reset();
    fs::remove_all(dir_);
  }

  testing::CommandResult Curl(const NetNs& ns, const std::string& url, const std::string& fmt = "") {
    std::vector<std::string> argv{"curl", "-sS", "--max-time", "10"};
    if (!fmt.empty()) argv.insert(argv.end(), {"-o", "/dev/null", "-w", fmt});
    argv.push_back(url);
    return RunCommand(argv, std::chrono::seconds(15), ns.name());
  }

  // The client namespace becomes a machine with this MAC and a DHCP lease.
  // Like a UEFI PXE client, it says so in option 60.
  std::string Lease(const std::string& mac) {
    net_->client.Ip({"link", "set", "veth-c", "address", mac});
    auto r = RunCommand({"busybox", "udhcpc", "-i", "veth-c", "-n", "-q", "-f", "-t", "5", "-T", "1", "-V",
                         "PXEClient:Arch:00007:UNDI:003016", "-s", (dir_ / "udhcpc.script").string()},
                        std::chrono::seconds(30), net_->client.name());
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::smatch m;
    const std::string out = net_->client.Sh("ip -4 -o addr show dev veth-c");
    EXPECT_TRUE(std::regex_search(out, m, std::regex(R"(inet (10\.66\.0\.\d+))"))) << out;
    return m.size() > 1 ? m[1].str() : "";
  }

  std::string Script(const std::string& mac) {
    std::string hyphen = mac;
    std::replace(hyphen.begin(), hyphen.end(), ':', '-');
    auto r = Curl(net_->client, "http://10.66.0.1:8080/ipxe?mac=" + hyphen + "&uuid=u-1&arch=x86_64");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  }

  static std::string KernelArgs(const std::string& script) {
    std::smatch m;
    if (!std::regex_search(script, m, std::regex(R"(\nkernel \S+ ([^\n]+)\n)"))) return "";
    return m[1].str();
  }

  std::string Metric(const std::string& sample) {
    auto r = Curl(net_->server, "http://10.66.0.1:8080/metrics");
    std::smatch m;
    const std::string pattern = std::regex_replace(sample, std::regex(R"([{}"])"), R"(\$&)");
    if (!std::regex_search(r.output, m, std::regex(pattern + R"( (\S+))"))) return "";
    return m[1].str();
  }

  fs::path dir_;
  std::unique_ptr<VethPair> net_;
  std::unique_ptr<Subprocess> daemon_;
};

TEST_F(ApplianceIt, InstallLoopEndsInBootFromDisk) {
  const std::string ip = Lease(kCpMac);
  ASSERT_FALSE(ip.empty());

  const std::string script = Script(kCpMac);
  ASSERT_NE(script.find("# metalpxe: install cp-1 (controlplane)"), std::string::npos) << script;
  const std::string args = KernelArgs(script);
  ASSERT_NE(args.find("talos.events.sink=10.66.0.1:50101"), std::string::npos) << args;
  ASSERT_NE(args.find("initrd=initramfs.xz"), std::string::npos) << args;

  // The kernel and initramfs the script names are served.
  EXPECT_EQ(Curl(net_->client, "http://10.66.0.1:8080/assets/profiles/default/vmlinuz", "%{http_code} %{size_download}")
                .output,
            "200 300000");

  const fs::path disk = dir_ / "disk.img";
  std::ofstream(disk).close();  // the machine's "disk": 1 MiB, where the marker goes
  fs::resize_file(disk, 1 << 20);
  const fs::path cmdline = dir_ / "cmdline";
  std::ofstream(cmdline) << args << " standin.disk=" << (dir_ / "disk.img").string()
                         << " standin.expect=cp-1/controlplane\n";
  auto standin = RunCommand({Bin("tests/e2e/installer/metalpxe_standin_installer"), cmdline.string()},
                            std::chrono::seconds(60), net_->client.name());
  EXPECT_EQ(standin.exit_code, 0) << standin.output;
  EXPECT_NE(standin.output.find("STANDIN: config is mine"), std::string::npos) << standin.output;
  EXPECT_NE(standin.output.find("STANDIN: install done"), std::string::npos) << standin.output;

  ASSERT_TRUE(WaitFor([&] { return Metric("metalpxe_machines{state=\"installed\"}") == "1"; },
                      std::chrono::seconds(10)))
      << daemon_->Describe();
  const std::string again = Script(kCpMac);
  EXPECT_NE(again.find("is installed, booting from its disk\nexit 1\n"), std::string::npos) << again;

  // Talos's kernel log lines arrived under the machine's name.
  const fs::path log = dir_ / "state" / "logs" / "cp-1.log";
  ASSERT_TRUE(WaitFor([&] { return fs::exists(log); }, std::chrono::seconds(10)));
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("installed cp-1 as controlplane"), std::string::npos) << text;
  EXPECT_EQ(Metric("metalpxe_configs_total{outcome=\"served\"}"), "1");
  EXPECT_EQ(Metric("metalpxe_power_actions_total{outcome=\"ok\"}"), "0");
  // The machine's first address was ping-checked (nobody answered) and the store took every lease.
  EXPECT_EQ(Metric("metalpxe_dhcp_ping_checks_total{outcome=\"free\"}"), "1");
  EXPECT_EQ(Metric("metalpxe_dhcp_ping_checks_total{outcome=\"in-use\"}"), "0");
  EXPECT_EQ(Metric("metalpxe_dhcp_store_writable"), "1");

  // A firmware's TFTP fetch of iPXE (tftp-hpa's client, a real peer).
  auto tftp = RunCommand({"tftp", "-m", "binary", "10.66.0.1", "-c", "get", "undionly.kpxe",
                          (dir_ / "undionly.kpxe").string()},
                         std::chrono::seconds(30), net_->client.name());
  EXPECT_EQ(tftp.exit_code, 0) << tftp.output;
  EXPECT_EQ(fs::file_size(dir_ / "undionly.kpxe"), fs::file_size("/usr/lib/ipxe/undionly.kpxe"));

  // /metrics after a whole install, as Prometheus reads it: promtool's
  // parser and linter, HELP/TYPE on every family, consistent histograms,
  // and the latency histograms counted what this boot did.
  auto metrics = Curl(net_->server, "http://10.66.0.1:8080/metrics");
  ASSERT_EQ(metrics.exit_code, 0);
  EXPECT_EQ(testing::CheckPrometheusText(metrics.output), "") << metrics.output;
  const std::string& m = metrics.output;
  EXPECT_GE(testing::PrometheusSample(m, "metalpxe_dhcp_reply_latency_seconds_count{type=\"DHCPOFFER\"}"), 1) << m;
  EXPECT_GE(testing::PrometheusSample(m, "metalpxe_dhcp_reply_latency_seconds_count{type=\"DHCPACK\"}"), 1) << m;
  EXPECT_EQ(testing::PrometheusSample(m, "metalpxe_tftp_transfer_duration_seconds_count"), 1) << m;
  EXPECT_GE(testing::PrometheusSample(m, "metalpxe_http_request_duration_seconds_count{route=\"/ipxe\"}"), 2) << m;
  EXPECT_GE(testing::PrometheusSample(m, "metalpxe_http_request_duration_seconds_count{route=\"/assets/profiles\"}"), 1)
      << m;
  EXPECT_GE(testing::PrometheusSample(m, "metalpxe_http_request_duration_seconds_count{route=\"/config/\"}"), 1) << m;
}

TEST_F(ApplianceIt, TalosConfigErrorFailsTheMachineWithTalosReason) {
  const std::string ip = Lease(kWorkerMac);
  ASSERT_FALSE(ip.empty());
  const std::string script = Script(kWorkerMac);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(script, m, std::regex(R"(talos\.config=(\S+))"))) << script;
  EXPECT_EQ(Curl(net_->client, m[1].str(), "%{http_code}").output, "200");
  auto pub = RunCommand({Bin("tests/daemon/metalpxe-talos-event-publish"), "10.66.0.1:50101", "config-load-error",
                         "failed to load config: unknown keys found"},
                        std::chrono::seconds(20), net_->client.name());
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  ASSERT_TRUE(WaitFor([&] { return Metric("metalpxe_machines{state=\"failed\"}") == "1"; }, std::chrono::seconds(10)));
  EXPECT_NE(daemon_->Stderr().find("machine worker-1: installing -> failed: talos: machine.ConfigLoadErrorEvent"),
            std::string::npos)
      << daemon_->Stderr();
  EXPECT_NE(daemon_->Stderr().find("failed to load config: unknown keys found)"), std::string::npos)
      << daemon_->Stderr();
  // A failed machine gets the installer again on its next PXE boot.
  EXPECT_NE(Script(kWorkerMac).find("# metalpxe: install worker-1 (worker)"), std::string::npos);
}

// secureBoot uki over real HTTP: the profile's UKI is published and served,
// and the machine's own fetch of it (from its leased address, as its
// firmware's HTTP boot would) makes it an apply target in the store; a
// fetch from elsewhere does not. /ipxe hands the UKI without arguments.
TEST_F(ApplianceIt, SecureBootUkiFetchRegistersItsApplyTarget) {
  const std::string uki = "http://10.66.0.1:8080/assets/profiles/talos-sb/secureboot-uki.efi";
  auto sql = [&](const std::string& query) {
    return RunCommand({"sqlite3", "-readonly", "-cmd", ".timeout 2000", (dir_ / "state" / "metalpxe.db").string(),
                       query},
                      std::chrono::seconds(10))
        .output;
  };
  // Published (profiles resolve off the loop): from the appliance's own
  // address first, which is no machine's.
  ASSERT_TRUE(WaitFor([&] { return Curl(net_->server, uki, "%{http_code}").output == "200"; },
                      std::chrono::seconds(20)))
      << daemon_->Describe();
  const std::string ip = Lease(kSbMac);
  ASSERT_FALSE(ip.empty());
  EXPECT_EQ(sql("SELECT count(*) FROM apply_targets;"), "0\n");

  const auto fetched = Curl(net_->client, uki, "%{http_code} %{size_download}");
  EXPECT_EQ(fetched.output, "200 700002");
  EXPECT_TRUE(WaitFor([&] { return sql("SELECT mac, machine, address FROM apply_targets;") ==
                                   kSbMac + "|sb-1|" + ip + "\n"; },
                      std::chrono::seconds(10)))
      << sql("SELECT * FROM apply_targets;");
  EXPECT_TRUE(WaitFor([&] { return sql("SELECT count(*) FROM events WHERE machine = 'sb-1' AND message = "
                                       "'UKI fetched over HTTP (profile talos-sb, role worker): config by apply to " +
                                       ip + "';") == "1\n"; },
                      std::chrono::seconds(10)));
  EXPECT_TRUE(WaitFor([&] { return sql("SELECT count(*) FROM timeline WHERE summary LIKE 'HTTP GET UKI "
                                       "/assets/profiles/talos-sb/secureboot-uki.efi, %';") == "1\n"; },
                      std::chrono::seconds(10)));

  // iPXE on the same machine (a signed iPXE or a ROM) gets the UKI, no arguments, no token.
  const std::string script = Script(kSbMac);
  EXPECT_NE(script.find("\nkernel " + uki + "\nboot\n"), std::string::npos) << script;
  EXPECT_EQ(script.find("talos.config"), std::string::npos) << script;
}

TEST_F(ApplianceIt, ConfigTokenFromAnotherAddressOrMachineIsRefused) {
  const std::string ip = Lease(kCpMac);
  ASSERT_FALSE(ip.empty());
  std::smatch m;
  const std::string script = Script(kCpMac);
  ASSERT_TRUE(std::regex_search(script, m, std::regex(R"(talos\.config=(\S+))")));
  const std::string url = m[1].str();
  // From the server's own address: not the address the token is bound to.
  EXPECT_EQ(Curl(net_->server, url, "%{http_code}").output, "403");
  EXPECT_EQ(Curl(net_->client, "http://10.66.0.1:8080/config/AAAAAAAAAAAAAAAAAAAAAA", "%{http_code}").output, "403");
  EXPECT_EQ(Curl(net_->client, url, "%{http_code}").output, "200");
  EXPECT_EQ(Metric("metalpxe_configs_total{outcome=\"refused\"}"), "2");
  // The installer itself is refused to an address that does not hold the MAC's lease.
  EXPECT_EQ(Curl(net_->server, "http://10.66.0.1:8080/ipxe?mac=52-54-00-12-34-56", "%{http_code}").output, "403");
  // Nothing secret reached the log: neither the token nor the cluster secrets.
  const std::string token = url.substr(url.rfind('/') + 1);
  EXPECT_EQ(daemon_->Stderr().find(token), std::string::npos);
  EXPECT_EQ(daemon_->Stderr().find("ZXhhbXBsZS1jbHVzdGVyLXNlY3JldAo="), std::string::npos);
}

TEST_F(ApplianceIt, UnknownMachineIsDiscoveredThenAcceptedWithoutAPowerCycle) {
  const std::string mac = "52:54:00:99:00:01";
  Lease(mac);
  const std::string held = Script(mac);
  EXPECT_NE(held.find("not in the inventory; waiting to be accepted"), std::string::npos) << held;
  EXPECT_EQ(Metric("metalpxe_machines{state=\"discovered\"}"), "1");
  // Accept it by adding it to the inventory file: the watcher reloads.
  std::ofstream(dir_ / "machines.yaml", std::ios::app) << "  - name: new-1\n    macs: [\"" + mac +
                                                              "\"]\n    role: worker\n";
  ASSERT_TRUE(WaitFor([&] { return Script(mac).find("# metalpxe: install new-1 (worker)") != std::string::npos; },
                      std::chrono::seconds(10)));
  EXPECT_EQ(Metric("metalpxe_machines{state=\"discovered\"}"), "0");
}

TEST_F(ApplianceIt, MetalpxectlManagesTheLiveDaemonOverMutualTls) {
  // metalpxed wrote its CA, certificates and the admin client config on start.
  const std::string client_config = (dir_ / "state" / "pki" / "admin.metalpxeconfig").string();
  // The API starts last, after the boot path: wait for its client config.
  ASSERT_TRUE(WaitFor([&] { return fs::exists(client_config); }, std::chrono::seconds(20))) << daemon_->Describe();
  EXPECT_EQ(fs::status(client_config).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {Bin("cli/metalpxectl"), "--config", client_config});
    return RunCommand(args, std::chrono::seconds(20), net_->server.name());
  };
  auto list = ctl({"machines", "-o", "json"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("\"name\": \"cp-1\""), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("\"state\": \"pending-install\""), std::string::npos) << list.output;

  // An unknown machine shows up, is accepted through the API, and installs.
  const std::string mac = "52:54:00:99:00:02";
  Lease(mac);
  EXPECT_NE(Script(mac).find("waiting to be accepted"), std::string::npos);
  auto accept = ctl({"accept", mac, "--name", "api-1", "--role", "worker"});
  ASSERT_EQ(accept.exit_code, 0) << accept.output;
  EXPECT_NE(Script(mac).find("# metalpxe: install api-1 (worker)"), std::string::npos);
  auto exported = ctl({"machines", "export"});
  EXPECT_NE(exported.output.find("name: api-1"), std::string::npos) << exported.output;
  auto events = ctl({"events", "--machine", "api-1"});
  EXPECT_NE(events.output.find("discovered -> pending-install"), std::string::npos) << events.output;
  // The accept is an event with the caller's name (the admin certificate's CN).
  EXPECT_NE(events.output.find("admin: accept " + mac + " as api-1 (worker): ok"), std::string::npos)
      << events.output;

  // A viewer's config, issued by the live daemon, reads and may not act.
  const std::string viewer = (dir_ / "viewer.metalpxeconfig").string();
  auto issued = ctl({"config", "new", "vic", "--role", "viewer", viewer});
  ASSERT_EQ(issued.exit_code, 0) << issued.output;
  auto as_viewer = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {Bin("cli/metalpxectl"), "--config", viewer});
    return RunCommand(args, std::chrono::seconds(20), net_->server.name());
  };
  EXPECT_EQ(as_viewer({"machines"}).exit_code, 0);
  auto refused_power = as_viewer({"power", "cycle", "cp-1"});
  EXPECT_EQ(refused_power.exit_code, 1) << refused_power.output;
  EXPECT_NE(refused_power.output.find("Power needs the operator role"), std::string::npos) << refused_power.output;
  auto revoked = ctl({"config", "revoke", "vic"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.output;
  auto after = as_viewer({"machines"});
  EXPECT_EQ(after.exit_code, 1) << after.output;
  EXPECT_NE(after.output.find("was revoked"), std::string::npos) << after.output;
  auto all_events = ctl({"events"});
  EXPECT_NE(all_events.output.find("vic: refused: Power needs the operator role"), std::string::npos)
      << all_events.output;
  EXPECT_NE(all_events.output.find("admin: revoke client config vic"), std::string::npos) << all_events.output;
  EXPECT_EQ(all_events.output.find("PRIVATE KEY"), std::string::npos);

  // Without the client certificate the API refuses.
  std::ofstream(dir_ / "foreign.yaml") << "endpoint: 10.66.0.1:50100\n";
  auto refused = RunCommand({Bin("cli/metalpxectl"), "--config", (dir_ / "foreign.yaml").string(), "machines"},
                            std::chrono::seconds(20), net_->server.name());
  EXPECT_NE(refused.exit_code, 0) << refused.output;
}

}  // namespace
}  // namespace metalpxe
