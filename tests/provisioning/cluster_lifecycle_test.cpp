// The bootstrap decisions of a named cluster (core/provisioning/
// cluster_lifecycle.h): once per cluster, pinned to one control plane,
// bounded retries, existing clusters recognised, and none of restart, a
// second control plane or a reinstalled worker ever bootstrapping again.
#include "core/provisioning/cluster_lifecycle.h"

#include <gtest/gtest.h>

namespace metalpxe {
namespace {

using K = BootstrapDecision::Kind;
using R = BootstrapCallResult::Kind;
using S = ClusterBootstrapState;

ClusterNodeView Node(const char* name, Role role, MachineState state, int etcd = 0) {
  return ClusterNodeView{name, role, state, etcd};
}

std::vector<ClusterNodeView> ThreeNodes(MachineState cp1, MachineState cp2, MachineState wk) {
  return {Node("cp-1", Role::kControlPlane, cp1), Node("cp-2", Role::kControlPlane, cp2),
          Node("wk-1", Role::kWorker, wk)};
}

ClusterRecord Fresh() {
  ClusterRecord r;
  r.name = "prod";
  return r;
}

TEST(ClusterLifecycle, NothingUntilAControlPlaneRuns) {
  auto d = DecideBootstrap(BootstrapMode::kAuto, Fresh(),
                           ThreeNodes(MachineState::kInstalled, MachineState::kInstalling, MachineState::kRunning));
  EXPECT_EQ(d.kind, K::kNothing);
  EXPECT_EQ(d.why, "waiting for a control plane to run");
  // A running worker is never a bootstrap target.
  d = DecideBootstrap(BootstrapMode::kAuto, Fresh(), {Node("wk-1", Role::kWorker, MachineState::kRunning)});
  EXPECT_EQ(d.kind, K::kNothing);
  EXPECT_EQ(d.why, "the cluster has no control plane machine");
}

TEST(ClusterLifecycle, FirstRunningControlPlaneInInventoryOrder) {
  auto d = DecideBootstrap(BootstrapMode::kAuto, Fresh(),
                           ThreeNodes(MachineState::kInstalled, MachineState::kRunning, MachineState::kRunning));
  EXPECT_EQ(d.kind, K::kCall);
  EXPECT_EQ(d.node, "cp-2");
  d = DecideBootstrap(BootstrapMode::kAuto, Fresh(),
                      ThreeNodes(MachineState::kRunning, MachineState::kRunning, MachineState::kRunning));
  EXPECT_EQ(d.node, "cp-1");
}

TEST(ClusterLifecycle, ManualNeverCalls) {
  auto d = DecideBootstrap(BootstrapMode::kManual, Fresh(),
                           ThreeNodes(MachineState::kRunning, MachineState::kRunning, MachineState::kRunning));
  EXPECT_EQ(d.kind, K::kNothing);
}

TEST(ClusterLifecycle, PersistThenCallThenBootstrappedThenNeverAgain) {
  ClusterRecord r = BeforeBootstrapCall(Fresh(), "cp-1", 100);
  EXPECT_EQ(r.bootstrap, S::kBootstrapping);
  EXPECT_EQ(r.node, "cp-1");
  EXPECT_EQ(r.attempts, 1);
  r = AfterBootstrapCall(r, {R::kBootstrapped, ""}, 101);
  EXPECT_EQ(r.bootstrap, S::kBootstrapped);
  EXPECT_EQ(r.changed_unix, 101);
  EXPECT_EQ(ClusterEventMessage(r), "bootstrapped (bootstrapped on cp-1)");
  // The restart (the record loaded back), a second control plane running, a
  // worker reinstalled and running again: nothing.
  r = RoundAfterRestart(r);
  EXPECT_EQ(r.bootstrap, S::kBootstrapped);
  for (auto wk : {MachineState::kReinstallRequested, MachineState::kInstalling, MachineState::kRunning}) {
    auto d = DecideBootstrap(BootstrapMode::kAuto, r, ThreeNodes(MachineState::kRunning, MachineState::kRunning, wk));
    EXPECT_EQ(d.kind, K::kNothing) << MachineStateName(wk);
  }
  // Even when cp-1 is reinstalled (its etcd gone) the cluster stays bootstrapped.
  auto d = DecideBootstrap(BootstrapMode::kAuto, r,
                           ThreeNodes(MachineState::kInstalling, MachineState::kRunning, MachineState::kRunning));
  EXPECT_EQ(d.kind, K::kNothing);
}

TEST(ClusterLifecycle, NotReadyRetriesOnlyThePinnedNodeWithBoundedBackoff) {
  ClusterRecord r = BeforeBootstrapCall(Fresh(), "cp-1", 100);
  r = AfterBootstrapCall(r, {R::kRetry, "cp-1:50000: Bootstrap: bootstrap is not available yet"}, 101);
  EXPECT_EQ(r.bootstrap, S::kBootstrapping);
  EXPECT_EQ(r.reason, "cp-1:50000: Bootstrap: bootstrap is not available yet");
  // cp-1 went down (rebooting) while cp-2 runs: wait for cp-1, never call cp-2.
  auto d = DecideBootstrap(BootstrapMode::kAuto, r,
                           ThreeNodes(MachineState::kInstalled, MachineState::kRunning, MachineState::kRunning));
  EXPECT_EQ(d.kind, K::kNothing);
  EXPECT_NE(d.why.find("cp-1"), std::string::npos);
  d = DecideBootstrap(BootstrapMode::kAuto, r,
                      ThreeNodes(MachineState::kRunning, MachineState::kRunning, MachineState::kRunning));
  EXPECT_EQ(d.kind, K::kCall);
  EXPECT_EQ(d.node, "cp-1");

  EXPECT_EQ(BootstrapRetryDelay(1), kBootstrapFirstDelay);
  EXPECT_EQ(BootstrapRetryDelay(2), 2 * kBootstrapFirstDelay);
  EXPECT_EQ(BootstrapRetryDelay(1000), kBootstrapMaxDelay);
  for (int a = 1; a < 100; ++a) EXPECT_LE(BootstrapRetryDelay(a), kBootstrapMaxDelay);

  // Retries are bounded: the last one fails the cluster with the reason.
  while (r.attempts < kBootstrapMaxAttempts) {
    r = BeforeBootstrapCall(r, "cp-1", 200);
    r = AfterBootstrapCall(r, {R::kRetry, "cp-1:50000: Bootstrap: time is not in sync yet"}, 201);
  }
  EXPECT_EQ(r.bootstrap, S::kFailed);
  EXPECT_NE(r.reason.find("gave up after 30 attempts"), std::string::npos) << r.reason;
  EXPECT_EQ(DecideBootstrap(BootstrapMode::kAuto, r,
                            ThreeNodes(MachineState::kRunning, MachineState::kRunning, MachineState::kRunning)).kind,
            K::kNothing);
  // A restart gives one fresh bounded round, still on cp-1.
  r = RoundAfterRestart(r);
  EXPECT_EQ(r.bootstrap, S::kBootstrapping);
  EXPECT_EQ(r.attempts, 0);
  d = DecideBootstrap(BootstrapMode::kAuto, r,
                      ThreeNodes(MachineState::kRunning, MachineState::kRunning, MachineState::kRunning));
  EXPECT_EQ(d.kind, K::kCall);
  EXPECT_EQ(d.node, "cp-1");
}

TEST(ClusterLifecycle, RestartDuringACallGoesBackToTheSameNode) {
  // Persisted before the call; metalpxed died before the answer: the record
  // says bootstrapping on cp-2. After the restart cp-1 runs too, but only
  // cp-2 may be asked (it answers AlreadyExists if the lost call worked).
  ClusterRecord r = RoundAfterRestart(BeforeBootstrapCall(Fresh(), "cp-2", 100));
  auto d = DecideBootstrap(BootstrapMode::kAuto, r,
                           ThreeNodes(MachineState::kRunning, MachineState::kRunning, MachineState::kRunning));
  EXPECT_EQ(d.kind, K::kCall);
  EXPECT_EQ(d.node, "cp-2");
  r = AfterBootstrapCall(BeforeBootstrapCall(r, d.node, 110), {R::kAlreadyBootstrapped, ""}, 111);
  EXPECT_EQ(r.bootstrap, S::kBootstrapped);
  EXPECT_NE(r.reason.find("etcd data directory is not empty"), std::string::npos);
}

TEST(ClusterLifecycle, ExistingEtcdIsRecognisedWithoutACall) {
  // Bootstrapped by hand with talosctl before metalpxe knew the cluster.
  std::vector<ClusterNodeView> nodes{Node("cp-1", Role::kControlPlane, MachineState::kRunning),
                                     Node("cp-2", Role::kControlPlane, MachineState::kRunning, 2)};
  for (auto mode : {BootstrapMode::kAuto, BootstrapMode::kManual}) {
    auto d = DecideBootstrap(mode, Fresh(), nodes);
    EXPECT_EQ(d.kind, K::kRecognise);
    EXPECT_EQ(d.node, "cp-2");
    ClusterRecord r = Recognised(Fresh(), d.node, 2, 5);
    EXPECT_EQ(r.bootstrap, S::kBootstrapped);
    EXPECT_EQ(r.attempts, 0);
    EXPECT_EQ(r.reason, "recognised: etcd already runs on cp-2 (2 members)");
  }
  // Workers never carry etcd; a count from one changes nothing.
  std::vector<ClusterNodeView> worker_only{Node("wk-1", Role::kWorker, MachineState::kRunning, 1)};
  EXPECT_EQ(DecideBootstrap(BootstrapMode::kAuto, Fresh(), worker_only).kind, K::kNothing);
}

TEST(ClusterLifecycle, RefusedFailsAtOnceWithTheReason) {
  ClusterRecord r = BeforeBootstrapCall(Fresh(), "cp-1", 100);
  r = AfterBootstrapCall(r, {R::kRefused, "cp-1:50000: Bootstrap: the node refused our client certificate"}, 101);
  EXPECT_EQ(r.bootstrap, S::kFailed);
  EXPECT_EQ(ClusterEventMessage(r), "bootstrap failed: cp-1:50000: Bootstrap: the node refused our client certificate");
}

TEST(ClusterLifecycle, StateNamesRoundTrip) {
  for (auto s : {S::kPending, S::kBootstrapping, S::kBootstrapped, S::kFailed})
    EXPECT_EQ(ParseClusterBootstrapState(ClusterBootstrapStateName(s)), s);
  EXPECT_EQ(ParseClusterBootstrapState("done"), std::nullopt);
}

}  // namespace
}  // namespace metalpxe
