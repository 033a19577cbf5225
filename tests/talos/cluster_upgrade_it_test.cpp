// Rolling upgrades (daemon/cluster_upgrade_driver.h) with the real Talos
// client against stand-in apid processes in the lab's network namespace:
// two control planes and a worker end on the new version, workers first,
// one node at a time, never two control planes down at once (a watcher
// asks both control planes Version throughout); a node that refuses (its
// registry has no such installer) or never comes back stops the run with
// the reason and the later nodes are not called; a restart of metalpxed
// mid-way neither calls Upgrade again on a node nor upgrades one already on
// the target. The store is a real SqliteStore, reopened across the restart.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "core/cluster_upgrade.h"
#include "core/machine_registry.h"
#include "core/provisioning/provisioning_service.h"
#include "core/store/sqlite_store.h"
#include "daemon/cluster_upgrade_driver.h"
#include "talos/machine_client.h"
#include "tests/talos/talos_lab.h"

namespace metalpxe {
namespace {

using testing::Subprocess;
using testing::TalosLab;
using testing::WaitFor;

const std::string kSchematic = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba";

std::string UpgradeFixture(const std::string& path) { return TalosLab::Get().dir() + "/" + path; }

std::size_t CountUpgrades(const std::string& out) {
  std::size_t n = 0;
  for (auto at = out.find("accepted; rebooting"); at != std::string::npos; at = out.find("accepted; rebooting", at + 1))
    ++n;
  return n;
}

struct UpgradeMachine {
  std::string name;
  Role role;
  std::string ip;
  std::string mac;
};
// cp-1 sits on the fixtures' endpoint host (127.0.0.2): the worker's trustd.
const UpgradeMachine kUpCp1{"cp-1", Role::kControlPlane, "127.0.0.2", "52:54:00:00:16:01"};
const UpgradeMachine kUpCp2{"cp-2", Role::kControlPlane, "127.0.0.42", "52:54:00:00:16:02"};
const UpgradeMachine kUpWk1{"wk-1", Role::kWorker, "127.0.0.43", "52:54:00:00:16:03"};

class ClusterUpgradeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TalosLab::Get().tmp() + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    auto cfg = std::make_shared<AppConfig>();
    cfg->server.state_dir = dir_;
    cfg->server.address = *Ipv4Address::Parse("127.0.0.1");
    cfg->dhcp.mode = DhcpMode::kProxy;
    ProfileConfig profile;
    profile.name = "prod-nodes";
    profile.talos_version = "v1.9.5";
    profile.schematic = kSchematic;
    cfg->profiles["prod-nodes"] = profile;
    cfg->boot.default_profile = "prod-nodes";
    ClusterConfig c;
    c.name = "prod";
    c.endpoint = "https://127.0.0.2:6443";
    c.talosconfig_file = UpgradeFixture("cluster-a/talosconfig");
    c.talos = TalosLab::Get().Credentials("cluster-a");
    c.configs[Role::kControlPlane] = UpgradeFixture("cluster-a/controlplane.yaml");
    c.configs[Role::kWorker] = UpgradeFixture("cluster-a/worker.yaml");
    cfg->clusters["prod"] = c;
    auto inv = std::make_shared<Inventory>();
    for (const auto& m : {kUpCp1, kUpCp2, kUpWk1}) {
      MachineConfig mc;
      mc.name = m.name;
      mc.role = m.role;
      mc.macs = {*MacAddress::Parse(m.mac)};
      mc.ip = *Ipv4Address::Parse(m.ip);
      mc.cluster = "prod";
      mc.profile = "prod-nodes";
      inv->machines.push_back(mc);
    }
    cfg->inventory = inv;
    config_ = std::make_unique<SwappableConfigSource>(cfg);
  }
  void TearDown() override { StopDaemon(); }

  // A running stand-in node keeping its version in a state file (its disk).
  Subprocess StartNode(const UpgradeMachine& m, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--listen", m.ip + ":50000", "--address", m.ip, "--state",
                                  dir_ + "-" + m.name + ".state", "--version", "v1.9.5", "--config",
                                  UpgradeFixture(m.role == Role::kWorker ? "cluster-a/worker.yaml"
                                                                         : "cluster-a/controlplane.yaml")};
    args.insert(args.end(), extra.begin(), extra.end());
    return TalosLab::Get().StartApid(args);
  }

  void StartDaemon(std::chrono::milliseconds node_timeout = std::chrono::seconds(30)) {
    auto store = SqliteStore::Open(dir_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    service_ = std::make_unique<ProvisioningService>(*config_, store_.get(), ProvisioningOptions{});
    ASSERT_TRUE(service_->Load().ok());
    registry_ = &service_->registry();
    ClusterUpgradeOptions o;
    o.probe_timeout = std::chrono::seconds(2);
    o.upgrade_timeout = std::chrono::seconds(10);
    o.limits.node_timeout = node_timeout;
    o.limits.first_poll = std::chrono::milliseconds(100);
    o.limits.max_poll = std::chrono::milliseconds(400);
    driver_ = std::make_unique<ClusterUpgradeDriver>(*config_, *registry_, store_.get(), o);
    driver_->SetOnPinsChanged([this] { ++pin_changes_; });
    ASSERT_TRUE(driver_->Load().ok());
  }
  void StopDaemon() {
    driver_.reset();
    registry_ = nullptr;
    service_.reset();
    store_.reset();
  }
  void MarkRunning(const UpgradeMachine& m) {
    const auto mac = *MacAddress::Parse(m.mac);
    registry_->Apply(mac, LifecycleEvent::kConfigFetched, "test");
    registry_->Apply(mac, LifecycleEvent::kInstallFinished, "test");
    registry_->Apply(mac, LifecycleEvent::kApiAnswered, "test");
    ASSERT_EQ(registry_->StateOf(mac), MachineState::kRunning);
  }

  static std::string VersionOf(const UpgradeMachine& m) {
    auto c = talos::MachineClient::Connect(m.ip, talos::kApidPort, TalosLab::Get().Credentials("cluster-a"));
    if (!c.ok()) return "?";
    auto v = c->Version(std::chrono::seconds(2));
    return v.ok() ? v->tag : "down";
  }

  // Everything the run reported, as "phase node" lines.
  struct Progress {
    std::mutex mu;
    std::vector<UpgradeUpdate> updates;
    UpgradeListener Listener() {
      return [this](const UpgradeUpdate& u) {
        std::lock_guard lock(mu);
        updates.push_back(u);
      };
    }
    std::vector<std::string> Nodes(const std::string& phase) {
      std::lock_guard lock(mu);
      std::vector<std::string> out;
      for (const auto& u : updates)
        if (u.phase == phase) out.push_back(u.node);
      return out;
    }
  };

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

  std::string dir_;
  std::unique_ptr<SwappableConfigSource> config_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ProvisioningService> service_;
  MachineRegistry* registry_ = nullptr;
  std::unique_ptr<ClusterUpgradeDriver> driver_;
  std::atomic<int> pin_changes_{0};
};

// Asks both control planes Version every 100 ms: how many were down at once.
class ControlPlaneWatch {
 public:
  ControlPlaneWatch() {
    thread_ = std::thread([this] {
      while (!stop_) {
        const int down = (VersionOfCp(kUpCp1) ? 0 : 1) + (VersionOfCp(kUpCp2) ? 0 : 1);
        max_down_ = std::max(max_down_.load(), down);
        if (down > 0) ++down_samples_;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  ~ControlPlaneWatch() { Finish(); }
  void Finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int max_down() const { return max_down_; }
  int down_samples() const { return down_samples_; }

 private:
  static bool VersionOfCp(const UpgradeMachine& m) {
    auto c = talos::MachineClient::Connect(m.ip, talos::kApidPort, TalosLab::Get().Credentials("cluster-a"));
    // A node that is down refuses at once; the deadline only guards a slow machine.
    return c.ok() && c->Version(std::chrono::seconds(2)).ok();
  }
  std::atomic<bool> stop_{false};
  std::atomic<int> max_down_{0}, down_samples_{0};
  std::thread thread_;
};

TEST_F(ClusterUpgradeTest, ThreeNodesEndOnTheNewVersionWorkersFirstOneControlPlaneAtATime) {
  Subprocess cp1 = StartNode(kUpCp1, {"--reboot-ms", "1200"});
  Subprocess cp2 = StartNode(kUpCp2, {"--reboot-ms", "1200"});
  Subprocess wk1 = StartNode(kUpWk1, {"--reboot-ms", "1200"});
  StartDaemon();
  for (const auto& m : {kUpCp1, kUpCp2, kUpWk1}) MarkRunning(m);

  Progress progress;
  ControlPlaneWatch watch;
  const auto started = std::chrono::steady_clock::now();
  const Status st = driver_->Run("prod", "v1.9.6", "", progress.Listener());
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  watch.Finish();
  // The figure: the run against the nodes' own reboots (3 x 1.2 s); the
  // rest is our polling backoff (100 ms doubling), handshakes and peer checks.
  std::printf("UPGRADE-FIGURE: 3 nodes in %lld ms; the stand-ins' reboots alone 3600 ms\n",
              static_cast<long long>(took.count()));
  ASSERT_TRUE(st.ok()) << st.ToString() << "\n" << cp1.Describe() << wk1.Describe();

  EXPECT_EQ(progress.Nodes("upgrading"), (std::vector<std::string>{"wk-1", "cp-1", "cp-2"}));
  EXPECT_EQ(progress.Nodes("upgraded"), (std::vector<std::string>{"wk-1", "cp-1", "cp-2"}));
  EXPECT_EQ(progress.Nodes("done").size(), 1u);
  for (const auto& m : {kUpCp1, kUpCp2, kUpWk1}) EXPECT_EQ(VersionOf(m), "v1.9.6") << m.name;
  for (auto* node : {&cp1, &cp2, &wk1}) {
    EXPECT_EQ(CountUpgrades(node->Stdout()), 1u) << node->Describe();
    EXPECT_NE(node->Stdout().find("upgrade to factory.talos.dev/installer/" + kSchematic + ":v1.9.6 accepted"),
              std::string::npos)
        << node->Describe();
  }
  EXPECT_GT(watch.down_samples(), 0) << "the watcher saw the control planes reboot";
  EXPECT_EQ(watch.max_down(), 1) << "never two control planes down at once";

  // Durable, and pinned: a reinstall boots v1.9.6.
  auto stored = store_->LoadUpgrades();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].state, UpgradeRunState::kDone);
  EXPECT_EQ((*stored)[0].done, (std::vector<std::string>{"wk-1", "cp-1", "cp-2"}));
  EXPECT_EQ((*stored)[0].pinned_version, "v1.9.6");
  EXPECT_GE(pin_changes_.load(), 1);
  AppConfig pinned = *config_->Current();
  ApplyUpgradePins(pinned, *stored);
  EXPECT_EQ(pinned.profiles["prod-nodes"].talos_version, "v1.9.6");

  auto events = ClusterEvents();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().message, "upgraded to v1.9.6: every node answers it");
  // Each node's timeline has the call and the answer.
  for (const auto& m : {kUpCp1, kUpCp2, kUpWk1}) {
    std::vector<std::string> talos;
    for (const auto& e : service_->timeline().Entries(*MacAddress::Parse(m.mac)))
      if (e.source == TimelineSource::kTalos) talos.push_back(e.summary);
    ASSERT_EQ(talos.size(), 2u) << m.name;
    EXPECT_EQ(talos[0], "upgrade to v1.9.6 requested (factory.talos.dev/installer/" + kSchematic + ":v1.9.6)");
    EXPECT_EQ(talos[1], "runs v1.9.6 after its upgrade");
  }
  ExpectNoSecretsInEvents();

  // Again: every node is already there, nobody is called.
  Progress again;
  ASSERT_TRUE(driver_->Run("prod", "v1.9.6", "", again.Listener()).ok());
  EXPECT_EQ(again.Nodes("already"), (std::vector<std::string>{"wk-1", "cp-1", "cp-2"}));
  for (auto* node : {&cp1, &cp2, &wk1}) EXPECT_EQ(CountUpgrades(node->Stdout()), 1u);
}

// Two appliances on one shared store (here: the same Store object): an
// upgrade run through one pins the profiles of the other at its next re-read.
TEST_F(ClusterUpgradeTest, ASecondApplianceOnASharedStoreTakesTheUpgradePins) {
  Subprocess cp1 = StartNode(kUpCp1, {"--reboot-ms", "300"});
  Subprocess cp2 = StartNode(kUpCp2, {"--reboot-ms", "300"});
  Subprocess wk1 = StartNode(kUpWk1, {"--reboot-ms", "300"});
  StartDaemon();
  for (const auto& m : {kUpCp1, kUpCp2, kUpWk1}) MarkRunning(m);
  auto other_service = std::make_unique<ProvisioningService>(*config_, store_.get(), ProvisioningOptions{});
  ASSERT_TRUE(other_service->Load().ok());
  ClusterUpgradeDriver other(*config_, other_service->registry(), store_.get());
  std::atomic<int> other_pin_changes{0};
  other.SetOnPinsChanged([&] { ++other_pin_changes; });
  ASSERT_TRUE(other.Load().ok());
  other.Reread();
  EXPECT_EQ(other_pin_changes.load(), 0);
  EXPECT_TRUE(other.Records().empty());

  Progress progress;
  const Status st = driver_->Run("prod", "v1.9.6", "", progress.Listener());
  ASSERT_TRUE(st.ok()) << st.ToString() << "\n" << wk1.Describe();
  other.Reread();
  EXPECT_EQ(other_pin_changes.load(), 1);
  const auto records = other.Records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].pinned_version, "v1.9.6");
  EXPECT_EQ(records[0].state, UpgradeRunState::kDone);
  AppConfig pinned = *config_->Current();
  ApplyUpgradePins(pinned, records);
  EXPECT_EQ(pinned.profiles["prod-nodes"].talos_version, "v1.9.6");
  other.Reread();  // nothing new: no second call
  EXPECT_EQ(other_pin_changes.load(), 1);
}

TEST_F(ClusterUpgradeTest, ARefusedUpgradeStopsTheRunAndLeavesTheLaterNodesUntouched) {
  Subprocess cp1 = StartNode(kUpCp1, {"--reboot-ms", "300", "--installer-versions", "v1.9.7"});
  Subprocess cp2 = StartNode(kUpCp2, {"--reboot-ms", "300"});
  Subprocess wk1 = StartNode(kUpWk1, {"--reboot-ms", "300"});
  StartDaemon();
  for (const auto& m : {kUpCp1, kUpCp2, kUpWk1}) MarkRunning(m);
  Progress progress;
  const Status st = driver_->Run("prod", "v1.9.6", "", progress.Listener());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(st.message().rfind("cp-1 refused the upgrade: ", 0), 0u) << st.message();
  EXPECT_NE(st.message().find("error validating installer image"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(":v1.9.6: not found"), std::string::npos) << st.message();
  EXPECT_EQ(progress.Nodes("upgraded"), (std::vector<std::string>{"wk-1"}));
  EXPECT_EQ(progress.Nodes("failed").size(), 1u);
  EXPECT_EQ(VersionOf(kUpWk1), "v1.9.6");
  EXPECT_EQ(VersionOf(kUpCp1), "v1.9.5");
  EXPECT_EQ(VersionOf(kUpCp2), "v1.9.5");
  EXPECT_EQ(cp2.Stdout().find("upgrade to"), std::string::npos) << "never called:\n" << cp2.Describe();
  auto events = ClusterEvents();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().message.rfind("upgrade to v1.9.6 failed: cp-1 refused the upgrade: ", 0), 0u)
      << events.back().message;
  auto stored = store_->LoadUpgrades();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].state, UpgradeRunState::kFailed);
  EXPECT_EQ((*stored)[0].reason, st.message());
  EXPECT_EQ((*stored)[0].pinned_version, "v1.9.6") << "wk-1 moved";
  ExpectNoSecretsInEvents();
}

TEST_F(ClusterUpgradeTest, ANodeThatNeverComesBackStopsTheRunAtTheBound) {
  Subprocess cp1 = StartNode(kUpCp1, {"--reboot-ms", "300"});
  Subprocess cp2 = StartNode(kUpCp2, {"--reboot-ms", "300"});
  Subprocess wk1 = StartNode(kUpWk1, {"--reboot-ms", "120000"});
  StartDaemon(std::chrono::seconds(3));
  for (const auto& m : {kUpCp1, kUpCp2, kUpWk1}) MarkRunning(m);
  Progress progress;
  const auto start = std::chrono::steady_clock::now();
  const Status st = driver_->Run("prod", "v1.9.6", "", progress.Listener());
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().rfind("wk-1 did not come back on v1.9.6 within 3 s of its upgrade (last answer: ", 0), 0u)
      << st.message();
  EXPECT_GE(took, std::chrono::seconds(3));
  EXPECT_LT(took, std::chrono::seconds(12)) << "bounded";
  EXPECT_FALSE(progress.Nodes("waiting").empty());
  EXPECT_EQ(cp1.Stdout().find("upgrade to"), std::string::npos) << cp1.Describe();
  EXPECT_EQ(cp2.Stdout().find("upgrade to"), std::string::npos) << cp2.Describe();
  auto stored = store_->LoadUpgrades();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].node, "wk-1") << "still in flight";
}

TEST_F(ClusterUpgradeTest, ARestartMidWayDoesNotUpgradeANodeTwice) {
  Subprocess cp1 = StartNode(kUpCp1, {"--reboot-ms", "3000"});
  Subprocess cp2 = StartNode(kUpCp2, {"--reboot-ms", "300"});
  Subprocess wk1 = StartNode(kUpWk1, {"--reboot-ms", "300"});
  StartDaemon();
  for (const auto& m : {kUpCp1, kUpCp2, kUpWk1}) MarkRunning(m);
  Progress first;
  std::atomic<bool> ended{false};
  Status first_status;
  driver_->Start("prod", "v1.9.6", "", first.Listener(), [&](const Status& s) {
    first_status = s;
    ended = true;
  });
  // metalpxed stops while cp-1 reboots into v1.9.6.
  ASSERT_TRUE(WaitFor([&] { return first.Nodes("upgrading").size() == 2; }, std::chrono::seconds(30)))
      << cp1.Describe();
  StopDaemon();
  ASSERT_TRUE(ended);
  EXPECT_EQ(first_status.code(), ErrorCode::kUnavailable) << first_status.ToString();

  StartDaemon();
  auto stored = store_->LoadUpgrades();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].state, UpgradeRunState::kRunning);
  EXPECT_EQ((*stored)[0].node, "cp-1");
  for (const auto& m : {kUpCp1, kUpCp2, kUpWk1}) MarkRunning(m);
  Progress second;
  const Status st = driver_->Run("prod", "v1.9.6", "", second.Listener());
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(second.Nodes("upgrading"), (std::vector<std::string>{"cp-2"}));
  EXPECT_EQ(second.Nodes("upgraded"), (std::vector<std::string>{"cp-1", "cp-2"}));
  EXPECT_EQ(CountUpgrades(wk1.Stdout()), 1u) << wk1.Describe();
  EXPECT_EQ(CountUpgrades(cp1.Stdout()), 1u) << cp1.Describe();
  EXPECT_EQ(CountUpgrades(cp2.Stdout()), 1u) << cp2.Describe();
  for (const auto& m : {kUpCp1, kUpCp2, kUpWk1}) EXPECT_EQ(VersionOf(m), "v1.9.6") << m.name;
}

TEST_F(ClusterUpgradeTest, PlanRefusalsComeBeforeAnyCall) {
  Subprocess cp1 = StartNode(kUpCp1, {"--reboot-ms", "300"});
  StartDaemon();
  MarkRunning(kUpCp1);  // cp-2 is pending-install: upgrading cp-1 would leave two down
  Progress progress;
  Status st = driver_->Run("prod", "v1.9.6", "", progress.Listener());
  EXPECT_EQ(st.code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(st.message(),
            "control plane cp-2 is pending-install, not running: upgrading another control plane would leave two down");
  EXPECT_EQ(driver_->Run("prod", "1.9.6", "", progress.Listener()).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(driver_->Run("nope", "v1.9.6", "", progress.Listener()).code(), ErrorCode::kNotFound);
  EXPECT_TRUE(progress.updates.empty());
  EXPECT_EQ(cp1.Stdout().find("upgrade to"), std::string::npos);
}

}  // namespace
}  // namespace metalpxe
