// A named cluster through the whole of metalpxed, without a VM: busybox
// udhcpc leases, the stand-in Talos installer (the e2e lab's) fetches the
// config rendered from the cluster's base config and installs; then a
// stand-in apid (its second life) answers at the machine's address with the
// cluster's certificates. metalpxed marks it running, bootstraps the cluster
// once (after Talos's "not ready"), `metalpxectl clusters`, `cluster status`
// and `kubeconfig` show and fetch it, and a restart of metalpxed does not
// bootstrap again. The cluster is made by tests/support/talos-gen-config.sh
// (`talosctl gen config`-shaped).
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "tests/support/netns.h"
#include "tests/support/paths.h"
#include "tests/support/subprocess.h"

namespace metalpxe {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;
using testing::Subprocess;
using testing::VethPair;
using testing::WaitFor;

const std::string kClusterCpMac = "52:54:00:15:00:01";

std::string BinPath(const std::string& rel) { return testing::BinaryDir() + "/" + rel; }

std::size_t Occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class ClusterApplianceIt : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mpx-cluster-appliance-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "vmlinuz") << std::string(300000, 'k');
    std::ofstream(dir_ / "initramfs.xz") << std::string(500000, 'i');
    auto gen = RunCommand({testing::SourceDir() + "/tests/support/talos-gen-config.sh", (dir_ / "prod").string(),
                           "prod", "https://10.66.0.100:6443", "/dev/vda"},
                          std::chrono::seconds(120));
    ASSERT_EQ(gen.exit_code, 0) << gen.output;
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
clusters:
  prod:
    endpoint: https://10.66.0.100:6443
    talosconfig: prod/talosconfig
    configs:
      controlplane: prod/controlplane.yaml
      worker: prod/worker.yaml
    bootstrap: auto
inventory: machines.yaml
)";
    std::ofstream(dir_ / "machines.yaml") << "machines:\n"
                                             "  - name: cp-1\n    macs: [\"" + kClusterCpMac + "\"]\n"
                                             "    role: controlplane\n    installDisk: /dev/vda\n"
                                             "    cluster: prod\n";
    std::ofstream(dir_ / "udhcpc.script") << "#!/bin/sh\n[ \"$1\" = bound ] && ip addr add $ip/$mask dev $interface\n"
                                             "exit 0\n";
    fs::permissions(dir_ / "udhcpc.script", fs::perms::owner_all);
    net_ = std::make_unique<VethPair>("clu", "10.66.0.1/24", "");
    StartDaemon();
  }

  void TearDown() override {
    StopDaemon();
    apid_.reset();
    net_.reset();
    fs::remove_all(dir_);
  }

  void StartDaemon() {
    daemon_ = std::make_unique<Subprocess>(
        Subprocess::Start({BinPath("daemon/metalpxed"), "--config", (dir_ / "metalpxe.yaml").string()},
                          net_->server.name()));
    const fs::path pki = dir_ / "state" / "pki" / "admin.metalpxeconfig";
    ASSERT_TRUE(WaitFor([&] { return daemon_->Stderr().find("metalpxed 0.1.0 running") != std::string::npos; },
                        std::chrono::seconds(30)))
        << daemon_->Describe();
    ASSERT_TRUE(fs::exists(pki));
  }
  void StopDaemon() {
    if (!daemon_) return;
    daemon_->Kill(SIGTERM);
    EXPECT_EQ(daemon_->Wait(std::chrono::seconds(60)), 0) << daemon_->Describe();
    stderr_before_ += daemon_->Stderr();
    daemon_.reset();
  }

  testing::CommandResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(),
                {BinPath("cli/metalpxectl"), "--config", (dir_ / "state" / "pki" / "admin.metalpxeconfig").string()});
    return RunCommand(args, std::chrono::seconds(90), net_->server.name());
  }

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

  std::string KernelArgsFor(const std::string& mac) {
    std::string hyphen = mac;
    std::replace(hyphen.begin(), hyphen.end(), ':', '-');
    auto r = RunCommand({"curl", "-sS", "--max-time", "10", "http://10.66.0.1:8080/ipxe?mac=" + hyphen + "&arch=x86_64"},
                        std::chrono::seconds(15), net_->client.name());
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::smatch m;
    if (!std::regex_search(r.output, m, std::regex(R"(\nkernel \S+ ([^\n]+)\n)"))) return "";
    return m[1].str();
  }

  std::string MachineState() {
    auto r = Ctl({"get", "cp-1", "-o", "json"});
    std::smatch m;
    return std::regex_search(r.output, m, std::regex(R"re("state": "([a-z-]+)")re")) ? m[1].str() : r.output;
  }
  std::string ClusterBootstrap() {
    auto r = Ctl({"clusters", "-o", "json"});
    std::smatch m;
    return std::regex_search(r.output, m, std::regex(R"re("bootstrap": "([a-z-]+)")re")) ? m[1].str() : r.output;
  }

  fs::path dir_;
  std::unique_ptr<VethPair> net_;
  std::unique_ptr<Subprocess> daemon_;
  std::unique_ptr<Subprocess> apid_;
  std::string stderr_before_;
};

TEST_F(ClusterApplianceIt, InstalledRunningBootstrappedOnceKubeconfigAndRestart) {
  const std::string ip = Lease(kClusterCpMac);
  ASSERT_FALSE(ip.empty());
  const std::string args = KernelArgsFor(kClusterCpMac);
  ASSERT_NE(args.find("talos.config="), std::string::npos) << args;
  // The stand-in installer: fetches the config (rendered from the cluster's
  // base config), checks it is cp-1's, installs and reports over the event sink.
  const fs::path disk = dir_ / "disk.img";
  std::ofstream(disk).close();
  fs::resize_file(disk, 1 << 20);
  std::ofstream(dir_ / "cmdline") << args << " standin.disk=" << disk.string() << " standin.expect=cp-1/controlplane\n";
  auto standin = RunCommand({BinPath("tests/e2e/installer/metalpxe_standin_installer"), (dir_ / "cmdline").string()},
                            std::chrono::seconds(60), net_->client.name());
  ASSERT_EQ(standin.exit_code, 0) << standin.output;
  ASSERT_TRUE(WaitFor([&] { return MachineState() == "installed"; }, std::chrono::seconds(20))) << MachineState();

  // Its second life: Talos's API at the machine's address, with the cluster's CA.
  apid_ = std::make_unique<Subprocess>(Subprocess::Start(
      {BinPath("tests/e2e/installer/metalpxe_standin_apid"), "--listen", ip + ":50000", "--address", ip, "--config",
       (dir_ / "prod" / "controlplane.yaml").string(), "--not-ready-bootstraps", "1", "--state",
       (dir_ / "apid.state").string()},
      net_->client.name()));
  // metalpxed looks every 10 s; a not-ready answer is retried after 2 s.
  ASSERT_TRUE(WaitFor([&] { return MachineState() == "running"; }, std::chrono::seconds(40)))
      << MachineState() << "\n" << daemon_->Describe() << apid_->Describe();
  ASSERT_TRUE(WaitFor([&] { return ClusterBootstrap() == "bootstrapped"; }, std::chrono::seconds(40)))
      << ClusterBootstrap() << "\n" << daemon_->Describe() << apid_->Describe();
  EXPECT_EQ(Occurrences(apid_->Stdout(), "bootstrapped etcd"), 1u) << apid_->Describe();

  auto list = Ctl({"clusters"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("1 running"), std::string::npos) << list.output;
  auto status = Ctl({"cluster", "status", "prod"});
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("Bootstrap:   bootstrapped (auto) on cp-1, 2 call(s)"), std::string::npos)
      << status.output;
  EXPECT_NE(status.output.find("https://" + ip + ":2380"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("Kubernetes:  not ready"), std::string::npos) << status.output;  // no API server here

  // The kubeconfig the stand-in serves, to a private file.
  const std::string kubeconfig = (dir_ / "kubeconfig").string();
  auto kube = Ctl({"kubeconfig", "prod", kubeconfig});
  ASSERT_EQ(kube.exit_code, 0) << kube.output;
  std::ifstream in(kubeconfig);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("server: https://10.66.0.100:6443"), std::string::npos) << text;
  const auto key_at = text.find("client-key-data: ");
  ASSERT_NE(key_at, std::string::npos) << text;
  const std::string key = text.substr(key_at + 17, 40);
  EXPECT_NE(apid_->Stdout().find("served the kubeconfig"), std::string::npos);
  EXPECT_EQ(fs::status(kubeconfig).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  auto talos = Ctl({"talosconfig", "prod"});
  ASSERT_EQ(talos.exit_code, 0) << talos.output;
  std::ifstream talosconfig_file(dir_ / "prod" / "talosconfig");
  const std::string talosconfig((std::istreambuf_iterator<char>(talosconfig_file)), {});
  EXPECT_EQ(talos.output, talosconfig);  // printed as it is, for talosctl

  // Restart metalpxed: the record comes back, Bootstrap is not called again.
  StopDaemon();
  StartDaemon();
  ASSERT_EQ(ClusterBootstrap(), "bootstrapped");
  std::this_thread::sleep_for(std::chrono::seconds(3));  // the first round runs at start
  EXPECT_EQ(MachineState(), "running");
  EXPECT_EQ(Occurrences(apid_->Stdout(), "bootstrapped etcd"), 1u) << apid_->Describe();

  // No credential in metalpxed's log.
  StopDaemon();
  EXPECT_EQ(stderr_before_.find(key), std::string::npos);
  EXPECT_EQ(stderr_before_.find("PRIVATE KEY"), std::string::npos);
  EXPECT_NE(stderr_before_.find("cluster prod: bootstrapped"), std::string::npos) << stderr_before_;
}

}  // namespace
}  // namespace metalpxe
