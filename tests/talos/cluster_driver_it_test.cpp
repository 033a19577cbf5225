// The cluster driver (daemon/cluster_driver.h) with the real Talos client
// against stand-in apid processes (tests/e2e/installer) in the lab's network
// namespace: installed machines become running when their API answers with
// the cluster's talosconfig, Bootstrap runs exactly once on the first
// running control plane (after Talos's "not ready" answers, with backoff),
// the record survives a restart without a second call, an existing etcd is
// recognised without a call, and a refused certificate, a reader's role and
// an unreachable node end in the right state with a readable reason. The
// store is a real SqliteStore; the scheduler is the daemon's on an io_context.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <thread>

#include "core/machine_registry.h"
#include "core/provisioning/provisioning_service.h"
#include "core/store/sqlite_store.h"
#include "daemon/asio_scheduler.h"
#include "daemon/cluster_driver.h"
#include "talos/machine_client.h"
#include "tests/talos/talos_lab.h"

namespace metalpxe {
namespace {

using testing::Subprocess;
using testing::TalosLab;
using testing::WaitFor;

std::string DriverFixture(const std::string& path) { return TalosLab::Get().dir() + "/" + path; }

// A running control plane stand-in at `ip` with `cluster`'s config.
Subprocess StartControlPlane(const std::string& ip, const std::string& cluster, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"--listen", ip + ":50000", "--address", ip, "--config",
                                DriverFixture(cluster + "/controlplane.yaml")};
  args.insert(args.end(), extra.begin(), extra.end());
  return TalosLab::Get().StartApid(args);
}

std::size_t CountOccurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

struct Machine {
  std::string name;
  Role role;
  std::string ip;
  std::string mac;
};

class ClusterDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_dir_ = TalosLab::Get().tmp() + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    work_.emplace(io_.get_executor());
    io_thread_ = std::thread([this] { io_.run(); });
    scheduler_ = std::make_unique<AsioScheduler>(io_);
  }
  void TearDown() override {
    StopDaemon();
    work_.reset();
    io_.stop();
    io_thread_.join();
  }

  // The appliance config: one cluster of `machines`, named "prod", using
  // `talosconfig` of `creds_cluster` (cluster-a unless a test says otherwise).
  void Configure(const std::vector<Machine>& machines, BootstrapMode mode = BootstrapMode::kAuto,
                 const std::string& talosconfig = "talosconfig", const std::string& creds_cluster = "cluster-a",
                 ConfigDelivery delivery = ConfigDelivery::kUrl) {
    auto cfg = std::make_shared<AppConfig>();
    cfg->server.state_dir = state_dir_;
    cfg->server.address = *Ipv4Address::Parse("127.0.0.1");
    cfg->dhcp.mode = DhcpMode::kProxy;  // another server leases: the installer goes where the script was asked from
    ProfileConfig profile;
    profile.name = "default";
    profile.kernel = "/nonexistent/vmlinuz";
    profile.initramfs = "/nonexistent/initramfs.xz";
    profile.config_delivery = delivery;
    cfg->profiles["default"] = profile;
    ClusterConfig c;
    c.name = "prod";
    c.endpoint = "https://127.0.0.2:6443";
    c.talosconfig_file = DriverFixture(creds_cluster + "/" + talosconfig);
    c.talos = TalosLab::Get().Credentials(creds_cluster, talosconfig);
    c.configs[Role::kControlPlane] = DriverFixture("cluster-a/controlplane.yaml");
    c.configs[Role::kWorker] = DriverFixture("cluster-a/worker.yaml");
    c.bootstrap = mode;
    cfg->clusters["prod"] = c;
    auto inv = std::make_shared<Inventory>();
    for (const auto& m : machines) {
      MachineConfig mc;
      mc.name = m.name;
      mc.role = m.role;
      mc.macs = {*MacAddress::Parse(m.mac)};
      if (!m.ip.empty()) mc.ip = *Ipv4Address::Parse(m.ip);
      mc.cluster = "prod";
      mc.profile = "default";
      inv->machines.push_back(mc);
    }
    cfg->inventory = inv;
    config_ = std::make_unique<SwappableConfigSource>(cfg);
  }

  // metalpxed's part: store, registry, driver (as after a start).
  void StartDaemon() {
    auto store = SqliteStore::Open(state_dir_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    service_ = std::make_unique<ProvisioningService>(*config_, store_.get(), ProvisioningOptions{});
    ASSERT_TRUE(service_->Load().ok());
    registry_ = &service_->registry();
    ClusterDriverOptions o;
    o.round_interval = std::chrono::milliseconds(300);
    o.probe_timeout = std::chrono::seconds(3);
    o.retry_delay = [](int) { return std::chrono::milliseconds(200); };
    driver_ = std::make_unique<ClusterDriver>(*config_, *registry_, store_.get(), *scheduler_, o);
    ASSERT_TRUE(driver_->Load().ok());
    driver_->SetConfigApplier(service_.get());
    driver_->Start();
  }
  void StopDaemon() {
    driver_.reset();
    registry_ = nullptr;
    service_.reset();
    store_.reset();
  }

  void MarkInstalled(const std::string& mac) {
    const auto m = *MacAddress::Parse(mac);
    registry_->Apply(m, LifecycleEvent::kConfigFetched, "test");
    registry_->Apply(m, LifecycleEvent::kInstallFinished, "test");
    ASSERT_EQ(registry_->StateOf(m), MachineState::kInstalled);
  }
  MachineState StateOf(const std::string& mac) { return registry_->StateOf(*MacAddress::Parse(mac)); }

  // Waits for `n` more rounds to complete (bounded).
  bool Rounds(std::uint64_t n) {
    const auto target = driver_->rounds() + n;
    driver_->RequestRound();
    return WaitFor([&] { return driver_->rounds() >= target; }, std::chrono::seconds(60));
  }

  std::vector<EventRecord> ClusterEvents() {
    std::vector<EventRecord> out;
    for (const auto& e : registry_->RecentEvents(0, 100000))
      if (e.kind == "cluster") out.push_back(e);
    return out;
  }
  void ExpectNoSecretsInEvents() {
    const std::string key = TalosLab::Get().Credentials("cluster-a").key_pem.Reveal();
    for (const auto& e : registry_->RecentEvents(0, 100000)) {
      EXPECT_EQ(e.message.find("PRIVATE KEY"), std::string::npos) << e.message;
      EXPECT_EQ(e.message.find(key.substr(40, 20)), std::string::npos) << e.message;
    }
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread io_thread_;
  std::unique_ptr<AsioScheduler> scheduler_;
  std::string state_dir_;
  std::unique_ptr<SwappableConfigSource> config_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ProvisioningService> service_;
  MachineRegistry* registry_ = nullptr;
  std::unique_ptr<ClusterDriver> driver_;
};

const Machine kCp1{"cp-1", Role::kControlPlane, "127.0.0.21", "52:54:00:00:15:01"};
const Machine kCp2{"cp-2", Role::kControlPlane, "127.0.0.22", "52:54:00:00:15:02"};
const Machine kWk1{"wk-1", Role::kWorker, "127.0.0.23", "52:54:00:00:15:03"};

TEST_F(ClusterDriverTest, BootstrapsOnceOnTheFirstRunningControlPlaneAndNotAgainAfterARestart) {
  Subprocess cp1 = StartControlPlane(kCp1.ip, "cluster-a", {"--not-ready-bootstraps", "2"});
  Subprocess cp2 = StartControlPlane(kCp2.ip, "cluster-a", {"--not-ready-bootstraps", "0"});
  Configure({kCp1, kCp2, kWk1});
  StartDaemon();
  // Nothing installed yet: nobody is asked anything, nothing is bootstrapped.
  ASSERT_TRUE(Rounds(2));
  EXPECT_EQ(StateOf(kCp1.mac), MachineState::kPendingInstall);
  EXPECT_EQ(driver_->Record("prod").bootstrap, ClusterBootstrapState::kPending);

  MarkInstalled(kCp1.mac);
  MarkInstalled(kCp2.mac);
  MarkInstalled(kWk1.mac);  // its API never answers here: it stays installed
  ASSERT_TRUE(WaitFor([&] { return driver_->Record("prod").bootstrap == ClusterBootstrapState::kBootstrapped; },
                      std::chrono::seconds(60)))
      << driver_->Record("prod").reason << "\n" << cp1.Describe();
  EXPECT_EQ(StateOf(kCp1.mac), MachineState::kRunning);
  EXPECT_EQ(StateOf(kCp2.mac), MachineState::kRunning);
  EXPECT_EQ(StateOf(kWk1.mac), MachineState::kInstalled);
  const ClusterRecord done = driver_->Record("prod");
  EXPECT_EQ(done.node, "cp-1");
  EXPECT_EQ(done.attempts, 3) << "two 'not ready' answers, then the bootstrap";
  EXPECT_EQ(CountOccurrences(cp1.Stdout(), "bootstrapped etcd"), 1u) << cp1.Describe();
  EXPECT_EQ(CountOccurrences(cp2.Stdout(), "bootstrapped etcd"), 0u) << cp2.Describe();

  // The cluster's events: the retries' reasons, then "bootstrapped".
  auto events = ClusterEvents();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().machine, "cluster/prod");
  EXPECT_EQ(events.back().message.rfind("bootstrapped", 0), 0u) << events.back().message;
  bool saw_not_ready = false;
  for (const auto& e : events) saw_not_ready = saw_not_ready || e.message.find("bootstrap is not available yet") != std::string::npos;
  EXPECT_TRUE(saw_not_ready);
  ExpectNoSecretsInEvents();

  // The kubeconfig through the driver: what the stand-in serves after Bootstrap.
  auto kubeconfig = driver_->Kubeconfig("prod");
  ASSERT_TRUE(kubeconfig.ok()) << kubeconfig.status().ToString();
  EXPECT_NE(kubeconfig->Reveal().find("server: https://127.0.0.2:6443"), std::string::npos);
  auto members = driver_->EtcdMembers("prod");
  ASSERT_TRUE(members.ok()) << members.status().ToString();
  EXPECT_EQ(members->size(), 1u);

  // metalpxed restarts: the record comes back from the store, nothing is called again.
  StopDaemon();
  StartDaemon();
  EXPECT_EQ(driver_->Record("prod").bootstrap, ClusterBootstrapState::kBootstrapped);
  ASSERT_TRUE(Rounds(3));
  EXPECT_EQ(CountOccurrences(cp1.Stdout(), "bootstrapped etcd"), 1u);
  EXPECT_EQ(CountOccurrences(cp2.Stdout(), "bootstrapped etcd"), 0u);
  EXPECT_EQ(driver_->Record("prod").attempts, 3);
}

// Two appliances on one shared store (etcd in production; here both use the
// same Store object): the second one, started before the first bootstrapped
// the cluster, takes the first one's record at its next round instead of
// deciding on its own (without it, it would only "recognise" the etcd it
// finds, with a record of its own).
TEST_F(ClusterDriverTest, ASecondApplianceOnASharedStoreTakesTheBootstrapRecord) {
  Subprocess cp1 = StartControlPlane(kCp1.ip, "cluster-a", {"--not-ready-bootstraps", "0"});
  Subprocess cp2 = StartControlPlane(kCp2.ip, "cluster-a", {"--not-ready-bootstraps", "0"});
  Configure({kCp1, kCp2});
  StartDaemon();
  auto other_service = std::make_unique<ProvisioningService>(*config_, store_.get(), ProvisioningOptions{});
  ASSERT_TRUE(other_service->Load().ok());
  ClusterDriverOptions o;
  o.round_interval = std::chrono::milliseconds(300);
  o.probe_timeout = std::chrono::seconds(3);
  o.shared_store = true;
  ClusterDriver other(*config_, other_service->registry(), store_.get(), *scheduler_, o);
  ASSERT_TRUE(other.Load().ok());
  other.Start();
  EXPECT_EQ(other.Record("prod").bootstrap, ClusterBootstrapState::kPending);

  MarkInstalled(kCp1.mac);
  MarkInstalled(kCp2.mac);
  ASSERT_TRUE(WaitFor([&] { return driver_->Record("prod").bootstrap == ClusterBootstrapState::kBootstrapped; },
                      std::chrono::seconds(60)))
      << driver_->Record("prod").reason;
  const ClusterRecord first = driver_->Record("prod");
  // The other appliance now sees the control planes installed too.
  for (const auto& m : {kCp1, kCp2}) {
    other_service->registry().Apply(*MacAddress::Parse(m.mac), LifecycleEvent::kConfigFetched, "test");
    other_service->registry().Apply(*MacAddress::Parse(m.mac), LifecycleEvent::kInstallFinished, "test");
  }
  const auto target = other.rounds() + 3;
  other.RequestRound();
  ASSERT_TRUE(WaitFor([&] { return other.rounds() >= target; }, std::chrono::seconds(60)));
  const ClusterRecord seen = other.Record("prod");
  EXPECT_EQ(seen.bootstrap, ClusterBootstrapState::kBootstrapped);
  EXPECT_EQ(seen.node, first.node);
  EXPECT_EQ(seen.reason, first.reason);
  EXPECT_EQ(seen.attempts, first.attempts);
  EXPECT_EQ(CountOccurrences(cp1.Stdout(), "bootstrapped etcd"), 1u) << cp1.Describe();
  EXPECT_EQ(CountOccurrences(cp2.Stdout(), "bootstrapped etcd"), 0u) << cp2.Describe();
  other.Stop();
}

TEST_F(ClusterDriverTest, AnExistingEtcdIsRecognisedWithoutABootstrapCall) {
  Subprocess cp1 = StartControlPlane(kCp1.ip, "cluster-a", {"--not-ready-bootstraps", "0"});
  {
    // Bootstrapped by hand (talosctl bootstrap) before metalpxe took over.
    auto c = talos::MachineClient::Connect(kCp1.ip, talos::kApidPort, TalosLab::Get().Credentials("cluster-a"));
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c->Bootstrap().ok());
  }
  Configure({kCp1});
  StartDaemon();
  MarkInstalled(kCp1.mac);
  ASSERT_TRUE(WaitFor([&] { return driver_->Record("prod").bootstrap == ClusterBootstrapState::kBootstrapped; },
                      std::chrono::seconds(30)));
  const ClusterRecord r = driver_->Record("prod");
  EXPECT_EQ(r.attempts, 0) << "recognised, not called";
  EXPECT_EQ(r.reason, "recognised: etcd already runs on cp-1 (1 member)");
  EXPECT_EQ(CountOccurrences(cp1.Stdout(), "bootstrapped etcd"), 1u);  // the manual one only
}

TEST_F(ClusterDriverTest, ACertificateFromAnotherClusterIsNotRunning) {
  // The node runs cluster-b's config: its apid certificate is not from our CA.
  Subprocess cp1 = StartControlPlane(kCp1.ip, "cluster-b", {"--not-ready-bootstraps", "0"});
  Configure({kCp1});
  StartDaemon();
  MarkInstalled(kCp1.mac);
  ASSERT_TRUE(Rounds(3));
  EXPECT_EQ(StateOf(kCp1.mac), MachineState::kInstalled);
  EXPECT_EQ(driver_->Record("prod").bootstrap, ClusterBootstrapState::kPending);
  EXPECT_EQ(CountOccurrences(cp1.Stdout(), "bootstrapped etcd"), 0u);
}

TEST_F(ClusterDriverTest, AReaderRoleIsRefusedAndTheClusterFailsWithTheReason) {
  // Version is a reader's call, Bootstrap an admin's: the node runs, the call is refused.
  Subprocess cp1 = StartControlPlane(kCp1.ip, "cluster-a", {"--not-ready-bootstraps", "0"});
  Configure({kCp1}, BootstrapMode::kAuto, "talosconfig-reader");
  StartDaemon();
  MarkInstalled(kCp1.mac);
  ASSERT_TRUE(WaitFor([&] { return driver_->Record("prod").bootstrap == ClusterBootstrapState::kFailed; },
                      std::chrono::seconds(30)))
      << driver_->Record("prod").reason;
  EXPECT_EQ(StateOf(kCp1.mac), MachineState::kRunning);
  const ClusterRecord r = driver_->Record("prod");
  EXPECT_EQ(r.attempts, 1);
  EXPECT_NE(r.reason.find("not authorized"), std::string::npos) << r.reason;
  auto events = ClusterEvents();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().message.rfind("bootstrap failed: ", 0), 0u) << events.back().message;
  ExpectNoSecretsInEvents();
}

TEST_F(ClusterDriverTest, AnUnreachableNodeStaysInstalledAndRoundsStayBounded) {
  Configure({kCp1});  // no apid at kCp1.ip: connection refused
  StartDaemon();
  MarkInstalled(kCp1.mac);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(Rounds(3));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  EXPECT_EQ(StateOf(kCp1.mac), MachineState::kInstalled);
  EXPECT_EQ(driver_->Record("prod").bootstrap, ClusterBootstrapState::kPending);
  auto kubeconfig = driver_->Kubeconfig("prod");
  ASSERT_FALSE(kubeconfig.ok());
  EXPECT_EQ(kubeconfig.status().message(), "no control plane of cluster prod is running");
}

TEST_F(ClusterDriverTest, ManualClustersAreNeverBootstrapped) {
  Subprocess cp1 = StartControlPlane(kCp1.ip, "cluster-a", {"--not-ready-bootstraps", "0"});
  Configure({kCp1}, BootstrapMode::kManual);
  StartDaemon();
  MarkInstalled(kCp1.mac);
  ASSERT_TRUE(WaitFor([&] { return StateOf(kCp1.mac) == MachineState::kRunning; }, std::chrono::seconds(30)));
  ASSERT_TRUE(Rounds(3));
  EXPECT_EQ(driver_->Record("prod").bootstrap, ClusterBootstrapState::kPending);
  EXPECT_EQ(CountOccurrences(cp1.Stdout(), "bootstrapped etcd"), 0u);
}

TEST_F(ClusterDriverTest, ConfigByApplyInMaintenanceModeThenRunningAndBootstrapped) {
  // The installer booted without talos.config: Talos waits in maintenance mode.
  const Machine cp{"cp-a", Role::kControlPlane, "", "52:54:00:00:15:31"};
  const std::string ip = "127.0.0.31";
  Subprocess node = TalosLab::Get().StartApid(
      {"--listen", ip + ":50000", "--address", ip, "--maintenance", "--then-run", "--not-ready-bootstraps", "0"});
  Configure({cp}, BootstrapMode::kAuto, "talosconfig", "cluster-a", ConfigDelivery::kApply);
  StartDaemon();
  IpxeRequest req;
  req.mac = *MacAddress::Parse(cp.mac);
  req.peer = *Ipv4Address::Parse(ip);
  req.buildarch = "x86_64";
  req.platform = "efi";
  const IpxeAnswer a = service_->OnIpxe(req);
  ASSERT_EQ(a.kind, IpxeAnswer::Kind::kInstall) << a.why;
  for (const auto& arg : a.kernel_args) EXPECT_NE(arg.rfind("talos.config=", 0), 0u) << "no config URL, no token";
  EXPECT_NE(std::find(a.kernel_args.begin(), a.kernel_args.end(), "talos.platform=metal"), a.kernel_args.end());

  // The driver applies the rendered config over TLS; the node takes it.
  ASSERT_TRUE(WaitFor([&] { return StateOf(cp.mac) == MachineState::kInstalling; }, std::chrono::seconds(30)))
      << MachineStateName(StateOf(cp.mac)) << "\n" << node.Describe();
  EXPECT_TRUE(service_->ConfigApplyTargets().empty());
  EXPECT_TRUE(WaitFor([&] { return node.Stdout().find("config applied") != std::string::npos; },
                      std::chrono::seconds(10)));
  EXPECT_EQ(service_->counters().configs_applied.load(), 1u);
  EXPECT_EQ(service_->counters().configs_served.load(), 0u) << "nothing fetched over HTTP";
  ExpectNoSecretsInEvents();

  // Its second life: installed, then running with the cluster's
  // credentials (the applied config's CA), then bootstrapped.
  registry_->Apply(req.mac, LifecycleEvent::kInstallFinished, "test");
  ASSERT_TRUE(WaitFor([&] { return driver_->Record("prod").bootstrap == ClusterBootstrapState::kBootstrapped; },
                      std::chrono::seconds(60)))
      << driver_->Record("prod").reason << "\n" << node.Describe();
  EXPECT_EQ(StateOf(cp.mac), MachineState::kRunning);
  EXPECT_EQ(driver_->Record("prod").node, "cp-a");
}

TEST_F(ClusterDriverTest, ConfigByApplyWaitsWhileTheNodeIsNotUp) {
  const Machine cp{"cp-b", Role::kControlPlane, "", "52:54:00:00:15:32"};
  Configure({cp}, BootstrapMode::kAuto, "talosconfig", "cluster-a", ConfigDelivery::kApply);
  StartDaemon();
  IpxeRequest req;
  req.mac = *MacAddress::Parse(cp.mac);
  req.peer = *Ipv4Address::Parse("127.0.0.32");  // nothing listens there yet
  ASSERT_EQ(service_->OnIpxe(req).kind, IpxeAnswer::Kind::kInstall);
  ASSERT_TRUE(Rounds(3));
  EXPECT_EQ(StateOf(cp.mac), MachineState::kPendingInstall);
  ASSERT_EQ(service_->ConfigApplyTargets().size(), 1u);
  // It comes up: the next rounds apply.
  Subprocess node = TalosLab::Get().StartApid(
      {"--listen", "127.0.0.32:50000", "--address", "127.0.0.32", "--maintenance"});
  ASSERT_TRUE(WaitFor([&] { return StateOf(cp.mac) == MachineState::kInstalling; }, std::chrono::seconds(30)))
      << node.Describe();
}

}  // namespace
}  // namespace metalpxe
