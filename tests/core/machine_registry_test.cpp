#include "core/machine_registry.h"

#include <gtest/gtest.h>

namespace metalpxe {
namespace {

std::shared_ptr<AppConfig> ConfigWith(UnknownMachinePolicy policy) {
  auto cfg = std::make_shared<AppConfig>();
  cfg->boot.unknown_machines = policy;
  auto inv = std::make_shared<Inventory>();
  MachineConfig m;
  m.name = "cp-1";
  m.macs = {*MacAddress::Parse("52:54:00:00:00:01"), *MacAddress::Parse("52:54:00:00:00:02")};
  m.role = Role::kControlPlane;
  inv->machines.push_back(m);
  cfg->inventory = inv;
  return cfg;
}

const MacAddress kCp1 = *MacAddress::Parse("52:54:00:00:00:01");
const MacAddress kCp1Second = *MacAddress::Parse("52:54:00:00:00:02");
const MacAddress kStranger = *MacAddress::Parse("52:54:00:00:00:99");

TEST(MachineRegistry, InventoryMachinesStartPendingAndShareStateAcrossTheirMacs) {
  SwappableConfigSource src(ConfigWith(UnknownMachinePolicy::kDiscover));
  MachineRegistry reg(src, nullptr);
  EXPECT_EQ(reg.StateOf(kCp1), MachineState::kPendingInstall);
  reg.Apply(kCp1Second, LifecycleEvent::kConfigFetched, "config fetched");
  EXPECT_EQ(reg.StateOf(kCp1), MachineState::kInstalling);
  reg.Apply(kCp1, LifecycleEvent::kInstallFinished, "talos: install finished");
  EXPECT_EQ(reg.StateOf(kCp1Second), MachineState::kInstalled);
  auto events = reg.RecentEvents(0, 100);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].machine, "cp-1");
  EXPECT_EQ(events[1].message, "installing -> installed: talos: install finished");
}

TEST(MachineRegistry, ApiCallsAreEventsEvenWhenRepeated) {
  SwappableConfigSource src(ConfigWith(UnknownMachinePolicy::kDiscover));
  MachineRegistry reg(src, nullptr);
  int live = 0;
  reg.Subscribe([&](const EventRecord& e) { live += e.kind == "api" ? 1 : 0; });
  reg.RecordApiEvent("cp-1", "olga: power CYCLE cp-1: ok");
  reg.RecordApiEvent("cp-1", "olga: power CYCLE cp-1: ok");  // a second action, not a repeat
  reg.RecordApiEvent("", "admin: issue client config bob (viewer), serial ab: ok");
  reg.RecordEvent(kCp1, "power", "cycled");
  reg.RecordEvent(kCp1, "power", "cycled");  // ordinary events still fold repeats
  auto events = reg.RecentEvents(0, 100);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].kind, "api");
  EXPECT_EQ(events[1].machine, "cp-1");
  EXPECT_EQ(events[2].machine, "");
  EXPECT_EQ(events[3].kind, "power");
  EXPECT_EQ(live, 3);
}

TEST(MachineRegistry, UnknownMachinesAreDiscoveredThenAcceptedByTheInventory) {
  SwappableConfigSource src(ConfigWith(UnknownMachinePolicy::kDiscover));
  MachineRegistry reg(src, nullptr);
  reg.ObserveBoot({kStranger, Ipv4Address::Parse("10.66.0.150"), "uuid-1", "x86_64", "PXEClient:Arch:00007", ""});
  auto list = reg.List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].mac, kStranger);
  EXPECT_EQ(list[1].state, MachineState::kDiscovered);
  EXPECT_EQ(list[1].arch, "x86_64");
  EXPECT_EQ(reg.MacForAddress(*Ipv4Address::Parse("10.66.0.150")), kStranger);

  auto fresh = ConfigWith(UnknownMachinePolicy::kDiscover);
  auto inv = std::make_shared<Inventory>(*fresh->inventory);
  MachineConfig w;
  w.name = "w-1";
  w.macs = {kStranger};
  inv->machines.push_back(w);
  fresh->inventory = inv;
  src.Swap(fresh);
  reg.OnInventoryChanged(*fresh);
  EXPECT_EQ(reg.StateOf(kStranger), MachineState::kPendingInstall);
  EXPECT_EQ(reg.GetByName("w-1")->uuid, "uuid-1");
}

TEST(MachineRegistry, IgnorePolicyRecordsNothing) {
  SwappableConfigSource src(ConfigWith(UnknownMachinePolicy::kIgnore));
  MachineRegistry reg(src, nullptr);
  reg.ObserveBoot({kStranger, std::nullopt, "", "", "", ""});
  EXPECT_EQ(reg.List().size(), 1u);
  EXPECT_TRUE(reg.RecentEvents(0, 10).empty());
}

TEST(MachineRegistry, FailedKeepsTheReasonAndListenersHearEveryEvent) {
  SwappableConfigSource src(ConfigWith(UnknownMachinePolicy::kDiscover));
  MachineRegistry reg(src, nullptr);
  std::vector<std::string> heard;
  const int id = reg.Subscribe([&](const EventRecord& e) { heard.push_back(e.kind + ": " + e.message); });
  reg.Apply(kCp1, LifecycleEvent::kInstallFailed, "talos: config load error", "failed to parse config: bad yaml");
  EXPECT_EQ(reg.Get(kCp1)->reason, "failed to parse config: bad yaml");
  reg.Unsubscribe(id);
  reg.Apply(kCp1, LifecycleEvent::kConfigFetched, "config fetched");
  EXPECT_EQ(reg.Get(kCp1)->reason, "");
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0], "state: pending-install -> failed: talos: config load error (failed to parse config: bad yaml)");
}

}  // namespace
}  // namespace metalpxe
