// The rolling-upgrade decisions (core/cluster_upgrade.h): the plan's order
// and refusals, the installer image name, and the step function driven
// through whole runs against a small model of nodes (up/down, version) that
// checks at every step that at most one node, hence one control plane, is
// down.
#include "core/cluster_upgrade.h"

#include <gtest/gtest.h>

#include <map>

namespace metalpxe {
namespace {

const std::string kSchematic = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba";
const std::string kOther = std::string(64, 'a');

UpgradeCandidate Node(const std::string& name, Role role, MachineState state = MachineState::kRunning) {
  return {name, role, state, "default", kSchematic, "https://factory.talos.dev"};
}

std::vector<UpgradeCandidate> ThreeNodes() {
  return {Node("cp-2", Role::kControlPlane), Node("cp-1", Role::kControlPlane), Node("wk-1", Role::kWorker)};
}

TEST(ClusterUpgrade, VersionTagsAndSchematicIds) {
  for (const char* ok : {"v1.9.6", "v1.10.0", "v0.14.0", "v1.10.0-beta.1", "v1.11.0-alpha.0", "v2.0.0-rc.12"})
    EXPECT_TRUE(IsTalosVersionTag(ok)) << ok;
  for (const char* bad : {"1.9.6", "v1.9", "v1.9.6.1", "v01.9.6", "v1.9.6-", "v1.9.6-dev", "v1.9.6-beta", "latest",
                          "v1.9.6 ", "v1..6", "", "v1.9.6/../x", "v1.9.6:evil"})
    EXPECT_FALSE(IsTalosVersionTag(bad)) << bad;
  EXPECT_TRUE(IsSchematicId(kSchematic));
  EXPECT_FALSE(IsSchematicId(kSchematic.substr(1)));
  EXPECT_FALSE(IsSchematicId(std::string(64, 'A')));
  EXPECT_FALSE(IsSchematicId(std::string(63, 'a') + "/"));
}

TEST(ClusterUpgrade, FactoryInstallerImageIsTheRegistryPathTalosPulls) {
  auto image = FactoryInstallerImage("https://factory.talos.dev", kSchematic, "v1.9.6");
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(*image, "factory.talos.dev/installer/" + kSchematic + ":v1.9.6");
  auto mirror = FactoryInstallerImage("https://factory.lab.example:8443/", kSchematic, "v1.10.0");
  ASSERT_TRUE(mirror.ok());
  EXPECT_EQ(*mirror, "factory.lab.example:8443/installer/" + kSchematic + ":v1.10.0");
  EXPECT_FALSE(FactoryInstallerImage("https://factory.talos.dev", kSchematic, "1.9.6").ok());
  EXPECT_FALSE(FactoryInstallerImage("https://factory.talos.dev", "abc", "v1.9.6").ok());
  EXPECT_FALSE(FactoryInstallerImage("https://", kSchematic, "v1.9.6").ok());
  EXPECT_FALSE(FactoryInstallerImage("https://user@host", kSchematic, "v1.9.6").ok());
}

TEST(ClusterUpgrade, PlanIsWorkersFirstThenControlPlanesByName) {
  auto plan = PlanUpgrade("prod", ThreeNodes(), "v1.9.6", "");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(plan->nodes.size(), 3u);
  EXPECT_EQ(plan->nodes[0].name, "wk-1");
  EXPECT_EQ(plan->nodes[1].name, "cp-1");
  EXPECT_EQ(plan->nodes[2].name, "cp-2");
  EXPECT_EQ(plan->nodes[0].image, "factory.talos.dev/installer/" + kSchematic + ":v1.9.6");
  // --schematic replaces every profile's.
  auto other = PlanUpgrade("prod", ThreeNodes(), "v1.9.6", kOther);
  ASSERT_TRUE(other.ok());
  for (const auto& n : other->nodes) EXPECT_EQ(n.image, "factory.talos.dev/installer/" + kOther + ":v1.9.6");
}

TEST(ClusterUpgrade, PlanRefusals) {
  auto down_cp = ThreeNodes();
  down_cp[0].state = MachineState::kInstalled;
  auto r = PlanUpgrade("prod", down_cp, "v1.9.6", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "control plane cp-2 is installed, not running: upgrading another control plane would leave two down");

  auto local = ThreeNodes();
  local[2].schematic = "";
  r = PlanUpgrade("prod", local, "v1.9.6", "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("give --schematic"), std::string::npos) << r.status().message();
  EXPECT_TRUE(PlanUpgrade("prod", local, "v1.9.6", kSchematic).ok());

  EXPECT_EQ(PlanUpgrade("prod", ThreeNodes(), "1.9.6", "").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(PlanUpgrade("prod", ThreeNodes(), "v1.9.6", "xyz").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(PlanUpgrade("prod", {}, "v1.9.6", "").ok());
  EXPECT_FALSE(PlanUpgrade("prod", {Node("wk-1", Role::kWorker, MachineState::kFailed)}, "v1.9.6", "").ok());

  // A worker that is not running is skipped, not a reason to stop.
  auto pending = ThreeNodes();
  pending.push_back(Node("wk-2", Role::kWorker, MachineState::kPendingInstall));
  auto p = PlanUpgrade("prod", pending, "v1.9.6", "");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->nodes.size(), 3u);
  ASSERT_EQ(p->skipped.size(), 1u);
  EXPECT_EQ(p->skipped[0], "wk-2: pending-install (a reinstall installs v1.9.6)");
}

// A model of the nodes: each answers Version with its tag unless it is
// rebooting (for `reboot_looks` looks after its Upgrade) or refuses.
struct ModelNode {
  std::string tag = "v1.9.5";
  int down_for = 0;        // looks left while rebooting
  int reboot_looks = 2;    // a reboot lasts this many looks
  bool refuse = false;     // Upgrade refused (e.g. the image cannot be pulled)
  bool never_back = false; // the reboot never ends
  int upgrades = 0;
};

struct Model {
  std::map<std::string, ModelNode> nodes;
  std::vector<std::string> upgraded;  // Upgrade call order
  int max_down = 0, max_cp_down = 0;
  std::int64_t now = 1'000'000;

  bool Down(const ModelNode& n) const { return n.down_for > 0 || n.never_back; }
  VersionAnswer Look(const std::string& name) {
    ModelNode& n = nodes.at(name);
    if (n.never_back && n.upgrades > 0) return {std::nullopt, name + ": connection refused"};
    if (n.down_for > 0) {
      --n.down_for;
      return {std::nullopt, name + ": connection refused"};
    }
    return {n.tag, ""};
  }
  void CountDown(const UpgradePlan& plan) {
    int down = 0, cp_down = 0;
    for (const auto& p : plan.nodes) {
      const ModelNode& n = nodes.at(p.name);
      if ((n.down_for > 0) || (n.never_back && n.upgrades > 0)) {
        ++down;
        if (p.role == Role::kControlPlane) ++cp_down;
      }
    }
    max_down = std::max(max_down, down);
    max_cp_down = std::max(max_cp_down, cp_down);
  }

  // Drives a run to its end (bounded), as the daemon's driver does.
  UpgradeRun Drive(const UpgradePlan& plan, UpgradeRun run, const UpgradeLimits& limits, int max_steps = 200) {
    for (int i = 0; i < max_steps; ++i) {
      CountDown(plan);
      const UpgradeStep step = NextUpgradeStep(plan, run, limits, now);
      switch (step.kind) {
        case UpgradeStep::Kind::kDone:
        case UpgradeStep::Kind::kFailed:
          if (step.kind == UpgradeStep::Kind::kFailed && run.record.state == UpgradeRunState::kRunning) {
            run.record.state = UpgradeRunState::kFailed;
            run.record.reason = step.reason;
          }
          return run;
        case UpgradeStep::Kind::kLook:
          now += step.delay.count();
          OnLooked(plan, run, step.node, Look(step.node), now);
          break;
        case UpgradeStep::Kind::kCheckPeers: {
          std::vector<std::string> down;
          for (const auto& p : plan.nodes)
            if (p.role == Role::kControlPlane && p.name != step.node && Down(nodes.at(p.name)))
              down.push_back(p.name + ": down");
          OnPeersChecked(run, step.node, down, now);
          break;
        }
        case UpgradeStep::Kind::kCallUpgrade: {
          BeforeUpgradeCall(run, step.node, now);
          ModelNode& n = nodes.at(step.node);
          upgraded.push_back(step.node);
          if (n.refuse) {
            OnUpgradeCalled(run, step.node, {false, false, "error validating installer image: not found"}, now);
            break;
          }
          ++n.upgrades;
          n.down_for = n.reboot_looks;
          n.tag = step.image.substr(step.image.rfind(':') + 1);
          OnUpgradeCalled(run, step.node, {true, false, "Upgrade request received"}, now);
          break;
        }
      }
    }
    ADD_FAILURE() << "the run did not end";
    return run;
  }
};

Model ThreeNodeModel() {
  Model m;
  for (const char* n : {"cp-1", "cp-2", "wk-1"}) m.nodes[n];
  return m;
}

UpgradeLimits TestLimits() {
  UpgradeLimits l;
  l.node_timeout = std::chrono::seconds(60);
  l.first_poll = std::chrono::seconds(1);
  l.max_poll = std::chrono::seconds(8);
  return l;
}

TEST(ClusterUpgrade, AFullRunUpgradesOneNodeAtATimeWorkersFirst) {
  auto plan = PlanUpgrade("prod", ThreeNodes(), "v1.9.6", "");
  ASSERT_TRUE(plan.ok());
  Model m = ThreeNodeModel();
  auto run = StartUpgradeRun(*plan, "", std::nullopt, m.now);
  ASSERT_TRUE(run.ok());
  const UpgradeRun end = m.Drive(*plan, *run, TestLimits());
  EXPECT_EQ(end.record.state, UpgradeRunState::kDone) << end.record.reason;
  EXPECT_EQ(m.upgraded, (std::vector<std::string>{"wk-1", "cp-1", "cp-2"}));
  EXPECT_EQ(end.record.done, (std::vector<std::string>{"wk-1", "cp-1", "cp-2"}));
  EXPECT_EQ(m.max_down, 1);
  EXPECT_EQ(m.max_cp_down, 1);
  for (const auto& [name, n] : m.nodes) EXPECT_EQ(n.tag, "v1.9.6") << name;
}

TEST(ClusterUpgrade, NodesAlreadyOnTheTargetAreNotCalled) {
  auto plan = PlanUpgrade("prod", ThreeNodes(), "v1.9.6", "");
  ASSERT_TRUE(plan.ok());
  Model m = ThreeNodeModel();
  m.nodes["wk-1"].tag = "v1.9.6";
  m.nodes["cp-1"].tag = "v1.9.6";
  auto run = StartUpgradeRun(*plan, "", std::nullopt, m.now);
  const UpgradeRun end = m.Drive(*plan, *run, TestLimits());
  EXPECT_EQ(end.record.state, UpgradeRunState::kDone);
  EXPECT_EQ(m.upgraded, (std::vector<std::string>{"cp-2"}));
}

TEST(ClusterUpgrade, ARefusalStopsTheRunAndLaterNodesAreUntouched) {
  auto plan = PlanUpgrade("prod", ThreeNodes(), "v1.9.6", "");
  Model m = ThreeNodeModel();
  m.nodes["cp-1"].refuse = true;
  auto run = StartUpgradeRun(*plan, "", std::nullopt, m.now);
  const UpgradeRun end = m.Drive(*plan, *run, TestLimits());
  EXPECT_EQ(end.record.state, UpgradeRunState::kFailed);
  EXPECT_EQ(end.record.reason, "cp-1 refused the upgrade: error validating installer image: not found");
  EXPECT_EQ(end.record.node, "") << "nothing in flight after a refusal";
  EXPECT_EQ(m.upgraded, (std::vector<std::string>{"wk-1", "cp-1"}));
  EXPECT_EQ(m.nodes["cp-2"].tag, "v1.9.5");
  EXPECT_EQ(m.nodes["cp-2"].upgrades, 0);
}

TEST(ClusterUpgrade, ANodeThatNeverComesBackFailsAtTheBound) {
  auto plan = PlanUpgrade("prod", ThreeNodes(), "v1.9.6", "");
  Model m = ThreeNodeModel();
  m.nodes["wk-1"].never_back = true;
  auto run = StartUpgradeRun(*plan, "", std::nullopt, m.now);
  const std::int64_t start = m.now;
  const UpgradeRun end = m.Drive(*plan, *run, TestLimits());
  EXPECT_EQ(end.record.state, UpgradeRunState::kFailed);
  EXPECT_EQ(end.record.reason,
            "wk-1 did not come back on v1.9.6 within 60 s of its upgrade (last answer: wk-1: connection refused)");
  EXPECT_EQ(end.record.node, "wk-1") << "still in flight: a later run waits for it";
  EXPECT_EQ(m.upgraded, (std::vector<std::string>{"wk-1"}));
  EXPECT_GE(m.now - start, 60'000);
  EXPECT_LE(m.now - start, 61'000) << "the last wait is cut at the bound";
}

TEST(ClusterUpgrade, BackoffDoublesUpToTheMaximum) {
  UpgradePlan plan{"prod", "v1.9.6", {{"wk-1", Role::kWorker, "img:v1.9.6"}}, {}};
  UpgradeRun run;
  run.record.cluster = "prod";
  run.record.version = "v1.9.6";
  BeforeUpgradeCall(run, "wk-1", 0);
  OnUpgradeCalled(run, "wk-1", {true, false, "ok"}, 0);
  std::vector<long> delays;
  for (int i = 0; i < 6; ++i) {
    auto step = NextUpgradeStep(plan, run, TestLimits(), 0);
    ASSERT_EQ(step.kind, UpgradeStep::Kind::kLook);
    delays.push_back(static_cast<long>(step.delay.count()));
    OnLooked(plan, run, "wk-1", {std::string("v1.9.5"), ""}, 0);
  }
  EXPECT_EQ(delays, (std::vector<long>{1000, 2000, 4000, 8000, 8000, 8000}));
  EXPECT_EQ(run.last, "still v1.9.5");
}

TEST(ClusterUpgrade, ANodeThatDoesNotAnswerBeforeItsUpgradeStopsTheRun) {
  auto plan = PlanUpgrade("prod", ThreeNodes(), "v1.9.6", "");
  auto run = StartUpgradeRun(*plan, "", std::nullopt, 0);
  OnLooked(*plan, *run, "wk-1", {std::nullopt, "127.0.0.23:50000: connection refused"}, 0);
  EXPECT_EQ(run->record.state, UpgradeRunState::kFailed);
  EXPECT_EQ(run->record.reason, "wk-1 does not answer Version, not upgrading it: 127.0.0.23:50000: connection refused");
}

TEST(ClusterUpgrade, AControlPlaneWaitsForNoneButIsRefusedWhileAnotherIsDown) {
  auto plan = PlanUpgrade("prod", ThreeNodes(), "v1.9.6", "");
  auto run = StartUpgradeRun(*plan, "", std::nullopt, 0);
  run->record.done = {"wk-1"};
  OnLooked(*plan, *run, "cp-1", {std::string("v1.9.5"), ""}, 0);
  auto step = NextUpgradeStep(*plan, *run, TestLimits(), 0);
  ASSERT_EQ(step.kind, UpgradeStep::Kind::kCheckPeers);
  EXPECT_EQ(step.node, "cp-1");
  OnPeersChecked(*run, "cp-1", {"cp-2: deadline exceeded"}, 0);
  EXPECT_EQ(run->record.state, UpgradeRunState::kFailed);
  EXPECT_EQ(run->record.reason,
            "not upgrading control plane cp-1 while another control plane does not answer (cp-2: deadline exceeded)");
}

TEST(ClusterUpgrade, AnUnansweredUpgradeCallIsWaitedForNotRetried) {
  auto plan = PlanUpgrade("prod", ThreeNodes(), "v1.9.6", "");
  auto run = StartUpgradeRun(*plan, "", std::nullopt, 0);
  OnLooked(*plan, *run, "wk-1", {std::string("v1.9.5"), ""}, 0);
  ASSERT_EQ(NextUpgradeStep(*plan, *run, TestLimits(), 0).kind, UpgradeStep::Kind::kCallUpgrade);
  BeforeUpgradeCall(*run, "wk-1", 0);
  OnUpgradeCalled(*run, "wk-1", {false, true, "deadline exceeded"}, 0);
  EXPECT_EQ(run->record.state, UpgradeRunState::kRunning);
  EXPECT_EQ(run->phase, UpgradePhase::kWaitBack);
  EXPECT_EQ(NextUpgradeStep(*plan, *run, TestLimits(), 0).kind, UpgradeStep::Kind::kLook);
}

TEST(ClusterUpgrade, AResumedRunWaitsForTheNodeInFlightAndKeepsTheDoneOnes) {
  auto plan = PlanUpgrade("prod", ThreeNodes(), "v1.9.6", "");
  UpgradeRecord stored;
  stored.cluster = "prod";
  stored.version = "v1.9.6";
  stored.state = UpgradeRunState::kRunning;
  stored.done = {"wk-1"};
  stored.node = "cp-1";
  stored.node_since_ms = 5;  // long ago: the resumed run gets a fresh bound
  Model m = ThreeNodeModel();
  m.nodes["wk-1"].tag = "v1.9.6";
  m.nodes["cp-1"].tag = "v1.9.6";
  m.nodes["cp-1"].down_for = 3;  // still rebooting when metalpxed comes back
  auto run = StartUpgradeRun(*plan, "", stored, m.now);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->phase, UpgradePhase::kWaitBack);
  EXPECT_EQ(run->record.node_since_ms, m.now);
  const UpgradeRun end = m.Drive(*plan, *run, TestLimits());
  EXPECT_EQ(end.record.state, UpgradeRunState::kDone) << end.record.reason;
  EXPECT_EQ(m.upgraded, (std::vector<std::string>{"cp-2"})) << "neither wk-1 nor cp-1 is called again";
  EXPECT_EQ(end.record.done, (std::vector<std::string>{"wk-1", "cp-1", "cp-2"}));

  // Another version while cp-1 is in flight: finish that one first.
  auto other = PlanUpgrade("prod", ThreeNodes(), "v1.10.0", "");
  auto refused = StartUpgradeRun(*other, "", stored, m.now);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "the upgrade of cp-1 to v1.9.6 is not confirmed yet: finish it first (metalpxectl upgrade prod --to v1.9.6)");
}

AppConfig PinConfig() {
  AppConfig c;
  ProfileConfig p;
  p.name = "prod-nodes";
  p.talos_version = "v1.9.5";
  p.schematic = kSchematic;
  p.kernel_sha256 = std::string(64, '1');
  p.secure_boot = SecureBootChain::kUki;
  p.uki_sha256 = std::string(64, '2');
  p.uki = "/srv/v1.9.5-uki.efi";
  c.profiles["prod-nodes"] = p;
  ProfileConfig lab = p;
  lab.name = "lab";
  c.profiles["lab"] = lab;
  c.clusters["prod"].name = "prod";
  auto inv = std::make_shared<Inventory>();
  MachineConfig m;
  m.name = "cp-1";
  m.cluster = "prod";
  m.profile = "prod-nodes";
  inv->machines.push_back(m);
  m.name = "other";
  m.cluster = "";
  m.profile = "lab";
  inv->machines.push_back(m);
  c.inventory = inv;
  return c;
}

TEST(ClusterUpgrade, PinsSetTheClusterProfilesVersionOnceANodeMoved) {
  UpgradeRecord r;
  r.cluster = "prod";
  r.version = "v1.9.6";
  r.state = UpgradeRunState::kFailed;
  r.reason = "wk-1 refused the upgrade: ...";
  AppConfig c = PinConfig();
  EXPECT_TRUE(ApplyUpgradePins(c, {r}).pinned.empty()) << "nothing moved: nothing pinned";
  EXPECT_EQ(c.profiles["prod-nodes"].talos_version, "v1.9.5");

  r.done = {"cp-1"};
  r.pinned_version = "v1.9.6";
  r.pinned_schematic = kOther;
  PinOutcome o = ApplyUpgradePins(c, {r});
  ASSERT_EQ(o.pinned.size(), 1u);
  EXPECT_EQ(o.pinned[0], "prod-nodes: v1.9.6 (cluster prod)");
  EXPECT_EQ(c.profiles["prod-nodes"].talos_version, "v1.9.6");
  EXPECT_EQ(c.profiles["prod-nodes"].schematic, kOther);
  EXPECT_EQ(c.profiles["prod-nodes"].kernel_sha256, "") << "the old version's digest does not pin the new one";
  // secureBoot uki: the old version's UKI (file or digest) gives way to the new version's.
  EXPECT_EQ(c.profiles["prod-nodes"].uki_sha256, "");
  EXPECT_EQ(c.profiles["prod-nodes"].uki, "");
  EXPECT_EQ(c.profiles["prod-nodes"].secure_boot, SecureBootChain::kUki);
  EXPECT_EQ(c.profiles["lab"].talos_version, "v1.9.5") << "another profile is untouched";
  EXPECT_TRUE(ApplyUpgradePins(c, {r}).pinned.empty()) << "idempotent";
}

TEST(ClusterUpgrade, ThePinMovesWithTheFirstNodeAndSurvivesARunThatMovedNone) {
  auto plan = PlanUpgrade("prod", ThreeNodes(), "v1.9.6", "");
  Model m = ThreeNodeModel();
  auto run = StartUpgradeRun(*plan, "", std::nullopt, m.now);
  EXPECT_EQ(run->record.pinned_version, "");
  const UpgradeRun done = m.Drive(*plan, *run, TestLimits());
  EXPECT_EQ(done.record.pinned_version, "v1.9.6");
  // A later run refused at its first node keeps the cluster's pin.
  auto next = PlanUpgrade("prod", ThreeNodes(), "v1.10.0", "");
  Model refusing = ThreeNodeModel();
  refusing.nodes["wk-1"].refuse = true;
  auto again = StartUpgradeRun(*next, "", done.record, refusing.now);
  const UpgradeRun failed = refusing.Drive(*next, *again, TestLimits());
  EXPECT_EQ(failed.record.state, UpgradeRunState::kFailed);
  EXPECT_EQ(failed.record.pinned_version, "v1.9.6");
}

TEST(ClusterUpgrade, ASharedProfileIsNotPinned) {
  AppConfig c = PinConfig();
  auto inv = std::make_shared<Inventory>(*c.inventory);
  inv->machines[1].profile = "prod-nodes";
  c.inventory = inv;
  EXPECT_EQ(SharedProfileProblem(c, "prod"),
            "profile 'prod-nodes' is also used by machine other outside cluster prod: give the cluster's machines "
            "their own profile, so pinning its version changes only them");
  UpgradeRecord r;
  r.cluster = "prod";
  r.version = "v1.9.6";
  r.state = UpgradeRunState::kDone;
  r.pinned_version = "v1.9.6";
  PinOutcome o = ApplyUpgradePins(c, {r});
  EXPECT_TRUE(o.pinned.empty());
  ASSERT_EQ(o.conflicts.size(), 1u);
  EXPECT_EQ(c.profiles["prod-nodes"].talos_version, "v1.9.5");
}

}  // namespace
}  // namespace metalpxe
