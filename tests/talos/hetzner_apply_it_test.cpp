// A Hetzner dedicated server (issue 16) from "reinstall" to running, with
// configDelivery apply, on one host and without a VM, in the lab's network
// namespace (tests/talos/talos_lab.h):
//   - the strict Robot fixture over HTTPS (tests/ipmi/robot_fixture.h)
//     activates rescue and lists the rescue system's host key; its reset
//     starts a real OpenSSH sshd as the rescue system;
//   - metalpxe's power control pins the host key, streams the metal image
//     into the rescue system, which writes it onto a loop device;
//   - the reset that boots the disk "boots Talos in maintenance mode": the
//     stand-in apid (`--maintenance --then-run`) at the server's address;
//   - the server never spoke DHCP to metalpxe: the address the apply path
//     dials is the one Robot lists for the server (GET /server/{n});
//   - the cluster driver applies the rendered config over TLS there, the
//     stand-in installs with it and runs; its API answering Version over
//     mutual TLS with the cluster's talosconfig is what shows the install
//     finished (no event sink crosses the internet): installed, running,
//     and the cluster bootstrapped.
// Everything is the daemon's code (ProvisioningService, ReinstallJobs,
// DriverPowerControl with the Robot driver, ClusterDriver, the Talos client);
// the server side is tests/support/hetzner_server.h (also behind the
// metalpxed test, tests/daemon/hetzner_appliance_it_test.cpp).
#include <gtest/gtest.h>

#include <stdlib.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <thread>

#include "core/provisioning/provisioning_service.h"
#include "core/store/sqlite_store.h"
#include "daemon/asio_scheduler.h"
#include "daemon/cluster_driver.h"
#include "ipmi/driver_power_control.h"
#include "tests/support/hetzner_server.h"
#include "tests/talos/talos_lab.h"

namespace metalpxe {
namespace {

using testing::HetznerServer;
using testing::HetznerServerOptions;
using testing::RunCommand;
using testing::Subprocess;
using testing::TalosLab;
using testing::WaitFor;

const std::string kMac = "a8:a1:59:16:00:01";
const std::string kServerIp = HetznerServer::kAddress;  // where Robot says server 321 is (and its rescue sshd listens)
const std::string kRobotPassword = "robot-pass";

std::string LabFile(const std::string& path) { return TalosLab::Get().dir() + "/" + path; }

std::string Sha256Of(const std::string& path) { return RunCommand({"sha256sum", path}).output.substr(0, 64); }

class HetznerApply : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TalosLab::Get().tmp() + "/hetzner-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_ + "/state");
    HetznerServerOptions o;
    o.netns = TalosLab::Get().netns();
    o.dir = dir_ + "/server";
    o.ssh_port = testing::FreeTcpPort();
    o.robot_password = kRobotPassword;
    server_ = std::make_unique<HetznerServer>(o);
    work_.emplace(io_.get_executor());
    io_thread_ = std::thread([this] { io_.run(); });
    scheduler_ = std::make_unique<AsioScheduler>(io_);
  }
  void TearDown() override {
    driver_.reset();
    service_.reset();
    power_.reset();
    store_.reset();
    work_.reset();
    io_.stop();
    io_thread_.join();
    apid_.reset();
    server_.reset();
  }

  // The appliance: cluster prod (cluster-a's configs), machine hz-1 with a
  // hetzner-robot bmc, installMethod image, configDelivery apply; no ip in
  // the inventory unless `inventory_ip`.
  void Configure(const std::string& inventory_ip = "") {
    auto cfg = std::make_shared<AppConfig>();
    cfg->server.state_dir = dir_ + "/state";
    cfg->server.address = *Ipv4Address::Parse("10.0.0.1");
    cfg->dhcp.mode = DhcpMode::kProxy;
    cfg->power.hetzner_robot.url = server_->robot().url();
    cfg->power.hetzner_robot.ca_file = server_->robot().ca_file();
    ProfileConfig profile;
    profile.name = "hetzner";
    profile.kernel = "/nonexistent/vmlinuz";
    profile.initramfs = "/nonexistent/initramfs.xz";
    cfg->profiles["hetzner"] = profile;
    ClusterConfig c;
    c.name = "prod";
    c.endpoint = "https://127.0.0.2:6443";
    c.talosconfig_file = LabFile("cluster-a/talosconfig");
    c.talos = TalosLab::Get().Credentials("cluster-a");
    c.configs[Role::kControlPlane] = LabFile("cluster-a/controlplane.yaml");
    c.configs[Role::kWorker] = LabFile("cluster-a/worker.yaml");
    c.bootstrap = BootstrapMode::kAuto;
    cfg->clusters["prod"] = c;
    auto inv = std::make_shared<Inventory>();
    MachineConfig m;
    m.name = "hz-1";
    m.role = Role::kControlPlane;
    m.macs = {*MacAddress::Parse(kMac)};
    m.profile = "hetzner";
    m.cluster = "prod";
    m.install_disk = server_->disk();
    m.config_delivery = ConfigDelivery::kApply;
    if (!inventory_ip.empty()) m.ip = *Ipv4Address::Parse(inventory_ip);
    m.bmc = BmcConfig{};
    m.bmc->type = BmcType::kHetznerRobot;
    m.bmc->address = "321";
    m.bmc->username = "#ws+robotuser";
    m.bmc->password = Secret(kRobotPassword);
    m.bmc->ssh_key_file = server_->rescue().client_key();
    m.bmc->install_method = InstallMethod::kImage;
    inv->machines.push_back(m);
    cfg->inventory = inv;
    config_ = std::make_unique<SwappableConfigSource>(cfg);
  }

  // metalpxed's parts, wired as the daemon wires them.
  void StartDaemon() {
    auto store = SqliteStore::Open(dir_ + "/state");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    PowerContext ctx;
    ctx.request_timeout = std::chrono::milliseconds(3000);
    ctx.retry.max_attempts = 2;
    ctx.retry.initial_backoff = std::chrono::milliseconds(20);
    ctx.robot_base_url = server_->robot().url();
    ctx.robot_ca_file = server_->robot().ca_file();
    ctx.ssh_port = server_->rescue().port();
    ctx.rescue_timeout = std::chrono::seconds(20);
    const std::string image = server_->metal_image_zst();
    power_ = std::make_unique<DriverPowerControl>(io_, ctx, MakePowerDriver,
                                                  [image](const ProfileConfig&) -> Result<DiskImageInstall> {
                                                    return DiskImageInstall{image, Sha256Of(image), "zstd", ""};
                                                  });
    service_ = std::make_unique<ProvisioningService>(*config_, store_.get(), ProvisioningOptions{}, power_.get(),
                                                     scheduler_.get());
    ASSERT_TRUE(service_->Load().ok());
    ClusterDriverOptions o;
    o.round_interval = std::chrono::milliseconds(300);
    o.probe_timeout = std::chrono::seconds(3);
    o.retry_delay = [](int) { return std::chrono::milliseconds(200); };
    driver_ = std::make_unique<ClusterDriver>(*config_, service_->registry(), store_.get(), *scheduler_, o);
    ASSERT_TRUE(driver_->Load().ok());
    driver_->SetConfigApplier(service_.get());
    driver_->Start();
  }

  // metalpxed stops (everything in memory gone, the store closed) and starts again.
  void RestartDaemon() {
    driver_.reset();
    service_.reset();
    power_.reset();
    store_.reset();
    StartDaemon();
  }

  MachineState State() { return service_->registry().StateOf(*MacAddress::Parse(kMac)); }
  std::string Events() {
    std::string out;
    for (const auto& e : service_->registry().RecentEvents(0, 100000)) out += e.kind + ": " + e.message + "\n";
    return out;
  }

  std::string dir_;
  std::unique_ptr<HetznerServer> server_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread io_thread_;
  std::unique_ptr<AsioScheduler> scheduler_;
  std::unique_ptr<SwappableConfigSource> config_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<DriverPowerControl> power_;
  std::unique_ptr<ProvisioningService> service_;
  std::unique_ptr<ClusterDriver> driver_;
  std::unique_ptr<Subprocess> apid_;
};

TEST_F(HetznerApply, RescueImageThenConfigAppliedAtRobotsAddressThenInstalledRunningBootstrapped) {
  Configure();
  StartDaemon();
  const MacAddress mac = *MacAddress::Parse(kMac);
  EXPECT_FALSE(service_->registry().AddressOf(mac).has_value()) << "never seen by our DHCP";

  ASSERT_TRUE(service_->RequestReinstall(mac, false).ok());
  ASSERT_TRUE(WaitFor([&] { return server_->disk_booted(); }, std::chrono::seconds(60)))
      << Events() << "\nsshd:\n" << server_->rescue().SshdLog();
  EXPECT_TRUE(server_->DiskHoldsImage()) << "the image, byte for byte";
  ASSERT_TRUE(WaitFor([&] { return State() == MachineState::kPendingInstall; }, std::chrono::seconds(10))) << Events();
  // The address Robot lists for server 321 is where the machine is now, and
  // where its config goes.
  ASSERT_TRUE(service_->registry().AddressOf(mac).has_value()) << Events();
  EXPECT_EQ(service_->registry().AddressOf(mac)->ToString(), kServerIp);
  EXPECT_NE(Events().find("config by apply to " + kServerIp + " (Hetzner Robot's address of server 321)"),
            std::string::npos)
      << Events();

  // Talos boots from the disk into maintenance mode at that address.
  apid_ = std::make_unique<Subprocess>(TalosLab::Get().StartApid(
      {"--listen", kServerIp + ":50000", "--address", kServerIp, "--maintenance", "--then-run",
       "--not-ready-bootstraps", "0", "--version", "v1.9.6"}));
  ASSERT_TRUE(WaitFor([&] { return State() == MachineState::kRunning; }, std::chrono::seconds(60)))
      << MachineStateName(State()) << "\n" << Events() << apid_->Describe();
  EXPECT_NE(apid_->Stdout().find("config applied"), std::string::npos) << apid_->Describe();
  EXPECT_EQ(service_->counters().configs_applied.load(), 1u);
  EXPECT_EQ(service_->counters().configs_served.load(), 0u) << "nothing fetched over HTTP";
  ASSERT_TRUE(WaitFor([&] { return driver_->Record("prod").bootstrap == ClusterBootstrapState::kBootstrapped; },
                      std::chrono::seconds(60)))
      << driver_->Record("prod").reason << "\n" << apid_->Describe();
  EXPECT_EQ(driver_->KnownVersion("hz-1"), "v1.9.6");

  // The story, in order: installer (image) served, config applied,
  // installed (seen through the Talos API), running.
  const std::string events = Events();
  const auto served = events.find("-> pending-install");
  const auto applied = events.find("config applied over TLS to " + kServerIp);
  const auto installed = events.find("-> installed");
  const auto running = events.find("-> running");
  ASSERT_NE(served, std::string::npos) << events;
  ASSERT_NE(applied, std::string::npos) << events;
  ASSERT_NE(installed, std::string::npos) << events;
  ASSERT_NE(running, std::string::npos) << events;
  EXPECT_LT(served, applied);
  EXPECT_LT(applied, installed);
  EXPECT_LT(installed, running);
  // No secret in the history: Robot's password, the SSH key, the config's keys.
  EXPECT_EQ(events.find(kRobotPassword), std::string::npos);
  EXPECT_EQ(events.find("PRIVATE KEY"), std::string::npos);
  const std::string key = TalosLab::Get().Credentials("cluster-a").key_pem.Reveal();
  EXPECT_EQ(events.find(key.substr(40, 20)), std::string::npos);
}

// metalpxed restarts after the image is written and before Talos answers
// in maintenance mode: the apply target comes back from the store and the
// machine still reaches running, with the config applied once.
TEST_F(HetznerApply, ARestartBetweenImageWrittenAndConfigAppliedStillReachesRunning) {
  Configure();
  StartDaemon();
  const MacAddress mac = *MacAddress::Parse(kMac);
  ASSERT_TRUE(service_->RequestReinstall(mac, false).ok());
  ASSERT_TRUE(WaitFor([&] { return server_->disk_booted() && State() == MachineState::kPendingInstall; },
                      std::chrono::seconds(60)))
      << Events();
  ASSERT_EQ(service_->ConfigApplyTargets().size(), 1u);

  RestartDaemon();
  EXPECT_EQ(State(), MachineState::kPendingInstall);
  const auto targets = service_->ConfigApplyTargets();
  ASSERT_EQ(targets.size(), 1u) << "the restart lost the apply target";
  EXPECT_EQ(targets[0].address.ToString(), kServerIp);

  apid_ = std::make_unique<Subprocess>(TalosLab::Get().StartApid(
      {"--listen", kServerIp + ":50000", "--address", kServerIp, "--maintenance", "--then-run",
       "--not-ready-bootstraps", "0"}));
  ASSERT_TRUE(WaitFor([&] { return State() == MachineState::kRunning; }, std::chrono::seconds(60)))
      << MachineStateName(State()) << "\n" << Events() << apid_->Describe();
  EXPECT_EQ(service_->counters().configs_applied.load(), 1u);
  EXPECT_NE(Events().find("config applied over TLS to " + kServerIp), std::string::npos) << Events();
  EXPECT_TRUE(service_->ConfigApplyTargets().empty());
  // And a second restart does not apply it again.
  RestartDaemon();
  EXPECT_TRUE(service_->ConfigApplyTargets().empty());
  EXPECT_EQ(State(), MachineState::kRunning);
}

TEST_F(HetznerApply, TheInventorysAddressWinsOverRobotsListing) {
  Configure("127.0.0.61");  // e.g. an additional IP routed to the server
  StartDaemon();
  ASSERT_TRUE(service_->RequestReinstall(*MacAddress::Parse(kMac), false).ok());
  ASSERT_TRUE(WaitFor([&] { return server_->disk_booted() && State() == MachineState::kPendingInstall; },
                      std::chrono::seconds(60)))
      << Events();
  apid_ = std::make_unique<Subprocess>(TalosLab::Get().StartApid(
      {"--listen", "127.0.0.61:50000", "--address", "127.0.0.61", "--maintenance", "--then-run",
       "--not-ready-bootstraps", "0"}));
  ASSERT_TRUE(WaitFor([&] { return State() == MachineState::kRunning; }, std::chrono::seconds(60)))
      << MachineStateName(State()) << "\n" << Events() << apid_->Describe();
  EXPECT_NE(Events().find("config applied over TLS to 127.0.0.61"), std::string::npos) << Events();
}

}  // namespace
}  // namespace metalpxe
