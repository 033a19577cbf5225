#include "core/machine_lifecycle.h"

#include <gtest/gtest.h>

namespace metalpxe {
namespace {

using S = MachineState;
using E = LifecycleEvent;

TEST(MachineLifecycle, InstallPath) {
  EXPECT_EQ(NextState(S::kDiscovered, E::kAccepted), S::kPendingInstall);
  EXPECT_EQ(NextState(S::kPendingInstall, E::kConfigFetched), S::kInstalling);
  EXPECT_EQ(NextState(S::kInstalling, E::kInstallStarted), std::nullopt);
  EXPECT_EQ(NextState(S::kInstalling, E::kInstallFinished), S::kInstalled);
  EXPECT_EQ(NextState(S::kInstalling, E::kBootedAfterInstall), S::kInstalled);
}

TEST(MachineLifecycle, BootSequenceOnlyCountsAfterAnInstall) {
  // A Talos boot sequence from a machine that was not installing (e.g. an
  // already-installed node rebooting) changes nothing.
  EXPECT_EQ(NextState(S::kPendingInstall, E::kBootedAfterInstall), std::nullopt);
  EXPECT_EQ(NextState(S::kInstalled, E::kBootedAfterInstall), std::nullopt);
}

TEST(MachineLifecycle, ReinstallAndFailure) {
  EXPECT_EQ(NextState(S::kInstalled, E::kReinstallRequested), S::kReinstallRequested);
  EXPECT_EQ(NextState(S::kReinstallRequested, E::kInstallerServed), S::kPendingInstall);
  EXPECT_EQ(NextState(S::kReinstallRequested, E::kConfigFetched), S::kInstalling);
  EXPECT_EQ(NextState(S::kInstalling, E::kInstallFailed), S::kFailed);
  EXPECT_EQ(NextState(S::kReinstallRequested, E::kPowerFailed), S::kFailed);
  EXPECT_EQ(NextState(S::kFailed, E::kConfigFetched), S::kInstalling);
  EXPECT_EQ(NextState(S::kDiscovered, E::kReinstallRequested), std::nullopt);
}

TEST(MachineLifecycle, RunningOnlyAfterInstalled) {
  EXPECT_EQ(NextState(S::kInstalled, E::kApiAnswered), S::kRunning);
  EXPECT_EQ(NextState(S::kRunning, E::kApiAnswered), std::nullopt);
  // A node in the installer (maintenance mode answers too) is not running from its disk.
  for (auto s : {S::kDiscovered, S::kPendingInstall, S::kInstalling, S::kReinstallRequested, S::kFailed})
    EXPECT_EQ(NextState(s, E::kApiAnswered), std::nullopt) << MachineStateName(s);
  // A late install event does not take a running machine back; a reinstall does.
  EXPECT_EQ(NextState(S::kRunning, E::kInstallFinished), std::nullopt);
  EXPECT_EQ(NextState(S::kRunning, E::kBootedAfterInstall), std::nullopt);
  EXPECT_EQ(NextState(S::kRunning, E::kReinstallRequested), S::kReinstallRequested);
  EXPECT_EQ(NextState(S::kRunning, E::kInstallFailed), S::kFailed);
  EXPECT_EQ(MachineStateName(S::kRunning), "running");
  EXPECT_EQ(ParseMachineState("running"), S::kRunning);
}

TEST(MachineLifecycle, EveryEventHasAName) {
  for (int e = 0; e <= static_cast<int>(E::kApiAnswered); ++e)
    EXPECT_NE(LifecycleEventName(static_cast<E>(e)), "?");
}

}  // namespace
}  // namespace metalpxe
