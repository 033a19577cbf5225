#include "core/provisioning/boot_decision.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "core/provisioning/boot_urls.h"
#include "core/provisioning/talos_kernel_args.h"

namespace metalpxe {
namespace {

struct Fixture {
  AppConfig cfg;
  MachineConfig cp;
  Fixture() {
    cfg.server.address = *Ipv4Address::Parse("10.66.0.1");
    cfg.server.http_port = 8080;
    ProfileConfig p;
    p.name = "default";
    p.kernel_args = {"console=ttyS0"};
    cfg.profiles["default"] = p;
    cp.name = "cp-1";
    cp.role = Role::kControlPlane;
    cp.profile = "default";
    cp.kernel_args = {"talos.dashboard.disabled=1"};
  }
};

TEST(BootDecision, InventoryMachineInstallsUntilInstalled) {
  Fixture f;
  for (auto s : {MachineState::kPendingInstall, MachineState::kInstalling, MachineState::kReinstallRequested,
                 MachineState::kFailed}) {
    auto d = DecideBoot(f.cfg, &f.cp, s, "52:54:00:00:00:01");
    EXPECT_EQ(d.action, BootAction::kInstall) << MachineStateName(s);
    EXPECT_EQ(d.role, Role::kControlPlane);
    EXPECT_EQ(d.profile, &f.cfg.profiles["default"]);
  }
  auto d = DecideBoot(f.cfg, &f.cp, MachineState::kInstalled, "52:54:00:00:00:01");
  EXPECT_EQ(d.action, BootAction::kBootFromDisk);
  EXPECT_EQ(d.disk_mode, BootFromDisk::kExit);
  // A running machine (its Talos API answered) boots from its disk as well.
  EXPECT_EQ(DecideBoot(f.cfg, &f.cp, MachineState::kRunning, "").action, BootAction::kBootFromDisk);
  f.cfg.boot.unknown_machines = UnknownMachinePolicy::kAutoInstall;
  EXPECT_EQ(DecideBoot(f.cfg, nullptr, MachineState::kRunning, "").action, BootAction::kBootFromDisk);
}

TEST(BootDecision, BootFromDiskMachineOverrideWins) {
  Fixture f;
  f.cfg.boot.boot_from_disk = BootFromDisk::kHttp404;
  EXPECT_EQ(DecideBoot(f.cfg, &f.cp, MachineState::kInstalled, "").disk_mode, BootFromDisk::kHttp404);
  f.cp.boot_from_disk = BootFromDisk::kSanboot;
  EXPECT_EQ(DecideBoot(f.cfg, &f.cp, MachineState::kInstalled, "").disk_mode, BootFromDisk::kSanboot);
}

TEST(BootDecision, UnknownMachinesFollowThePolicy) {
  Fixture f;
  f.cfg.boot.unknown_machines = UnknownMachinePolicy::kIgnore;
  EXPECT_EQ(DecideBoot(f.cfg, nullptr, MachineState::kDiscovered, "").action, BootAction::kIgnore);
  f.cfg.boot.unknown_machines = UnknownMachinePolicy::kDiscover;
  EXPECT_EQ(DecideBoot(f.cfg, nullptr, MachineState::kDiscovered, "").action, BootAction::kDiscover);
  f.cfg.boot.unknown_machines = UnknownMachinePolicy::kAutoInstall;
  f.cfg.boot.default_role = Role::kWorker;
  auto d = DecideBoot(f.cfg, nullptr, MachineState::kDiscovered, "52:54:00:ab:cd:ef");
  EXPECT_EQ(d.action, BootAction::kInstall);
  EXPECT_EQ(d.machine_name, "node-525400abcdef");
  EXPECT_EQ(d.role, Role::kWorker);
}

TEST(TalosKernelArgs, CarryTheTalosArgumentsThenProfileThenMachine) {
  Fixture f;
  const std::string config_url = ConfigUrl(f.cfg.server, "tok123");
  EXPECT_EQ(config_url, "http://10.66.0.1:8080/config/tok123");
  EXPECT_EQ(JoinArgs(TalosKernelArgs(f.cfg.server, f.cfg.profiles["default"], &f.cp, config_url, false)),
            "initrd=initramfs.xz talos.platform=metal talos.config=http://10.66.0.1:8080/config/tok123 "
            "console=tty0 console=ttyS0 talos.events.sink=10.66.0.1:50101 "
            "talos.logging.kernel=tcp://10.66.0.1:50102 init_on_alloc=1 slab_nomerge pti=on printk.devkmsg=on "
            "console=ttyS0 talos.dashboard.disabled=1");
  auto wipe = TalosKernelArgs(f.cfg.server, f.cfg.profiles["default"], nullptr, config_url, true);
  EXPECT_NE(std::find(wipe.begin(), wipe.end(), "talos.experimental.wipe=system"), wipe.end());
  // configDelivery apply: no talos.config at all (Talos waits in maintenance mode).
  EXPECT_EQ(JoinArgs(TalosKernelArgs(f.cfg.server, f.cfg.profiles["default"], &f.cp, "", false)),
            "initrd=initramfs.xz talos.platform=metal "
            "console=tty0 console=ttyS0 talos.events.sink=10.66.0.1:50101 "
            "talos.logging.kernel=tcp://10.66.0.1:50102 init_on_alloc=1 slab_nomerge pti=on printk.devkmsg=on "
            "console=ttyS0 talos.dashboard.disabled=1");
}

}  // namespace
}  // namespace metalpxe
