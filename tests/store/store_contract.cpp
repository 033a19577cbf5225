// The Store contract (store_contract.h): compiled into each backend's test
// binary, which instantiates it for its backend.
#include "tests/store/store_contract.h"

#include <chrono>
#include <mutex>
#include <vector>

#include "tests/store/store_test_util.h"

namespace metalpxe::testing {
namespace {

MacAddress Mac(const char* s) { return *MacAddress::Parse(s); }
Ipv4Address Ip(const char* s) { return *Ipv4Address::Parse(s); }

std::int64_t InAnHour() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
             .count() +
         3600;
}

void ExpectSame(const LeaseRecord& a, const LeaseRecord& b) {
  EXPECT_EQ(a.ip, b.ip);
  EXPECT_EQ(a.mac, b.mac);
  EXPECT_EQ(a.client_id, b.client_id);
  EXPECT_EQ(a.expires_unix, b.expires_unix);
  EXPECT_EQ(a.hostname, b.hostname);
  EXPECT_EQ(a.kind, b.kind);
}

TEST_P(StoreContract, LeaseRoundTripAcrossReopen) {
  LeaseRecord a{Ip("10.66.0.100"), Mac("52:54:00:12:34:56"), "01525400123456", 1'900'000'000, "cp-1",
                LeaseRecord::Kind::kActive};
  LeaseRecord b{Ip("10.66.0.101"), Mac("52:54:00:12:34:57"), "", 1'900'000'100, "", LeaseRecord::Kind::kDeclined};
  // Any bytes a client sent as its hostname come back as they were.
  LeaseRecord c{Ip("10.66.0.102"), Mac("52:54:00:12:34:58"), "ff", 5, std::string("x\xff\x00y", 4),
                LeaseRecord::Kind::kReleased};
  {
    auto store = Open();
    Durable da, db, dc;
    store->PutLease(a, da.Callback());
    store->PutLease(b, db.Callback());
    store->PutLease(c, dc.Callback());
    ASSERT_TRUE(da.Wait().ok());
    ASSERT_TRUE(db.Wait().ok());
    ASSERT_TRUE(dc.Wait().ok());
    auto leases = store->LoadLeases();
    ASSERT_TRUE(leases.ok()) << leases.status().ToString();
    ASSERT_EQ(leases->size(), 3u);
  }
  auto store = Open();
  auto leases = store->LoadLeases();
  ASSERT_TRUE(leases.ok()) << leases.status().ToString();
  ASSERT_EQ(leases->size(), 3u);
  ExpectSame((*leases)[0], a);
  ExpectSame((*leases)[1], b);
  ExpectSame((*leases)[2], c);
}

TEST_P(StoreContract, LeaseUpsertAndDelete) {
  auto store = Open();
  LeaseRecord l{Ip("10.66.0.100"), Mac("52:54:00:00:00:01"), "", 100, "a", LeaseRecord::Kind::kActive};
  store->PutLease(l, nullptr);
  l.mac = Mac("52:54:00:00:00:02");  // the first lease expired long ago: the address is free
  l.expires_unix = 200;
  l.kind = LeaseRecord::Kind::kReleased;
  store->PutLease(l, nullptr);
  store->PutLease({Ip("10.66.0.101"), Mac("52:54:00:00:00:03"), "", 1, "", LeaseRecord::Kind::kActive}, nullptr);
  ASSERT_TRUE(store->Flush().ok());
  auto leases = store->LoadLeases();
  ASSERT_TRUE(leases.ok());
  ASSERT_EQ(leases->size(), 2u);
  ExpectSame((*leases)[0], l);

  Durable d;
  store->DeleteLease(Ip("10.66.0.100"), d.Callback());
  ASSERT_TRUE(d.Wait().ok());
  leases = store->LoadLeases();
  ASSERT_TRUE(leases.ok());
  ASSERT_EQ(leases->size(), 1u);
  EXPECT_EQ((*leases)[0].ip, Ip("10.66.0.101"));
  // Deleting what is not there is not an error.
  Durable d2;
  store->DeleteLease(Ip("10.66.0.250"), d2.Callback());
  EXPECT_TRUE(d2.Wait().ok());
}

TEST_P(StoreContract, LeaseHeldByAnotherMacIsRefused) {
  auto store = Open();
  const auto until = InAnHour();
  const LeaseRecord held{Ip("10.66.0.100"), Mac("52:54:00:00:00:01"), "", until, "a", LeaseRecord::Kind::kActive};
  Durable d0;
  store->PutLease(held, d0.Callback());
  ASSERT_TRUE(d0.Wait().ok());

  // Another MAC, while the first still holds it: refused, nothing written.
  LeaseRecord other = held;
  other.mac = Mac("52:54:00:00:00:02");
  Durable d1;
  store->PutLease(other, d1.Callback());
  const Status refused = d1.Wait();
  EXPECT_EQ(refused.code(), ErrorCode::kAlreadyExists) << refused.ToString();
  EXPECT_NE(refused.message().find("52:54:00:00:00:01"), std::string::npos) << refused.message();
  // A released record of another MAC would erase the holder's lease: refused too.
  other.kind = LeaseRecord::Kind::kReleased;
  Durable d2;
  store->PutLease(other, d2.Callback());
  EXPECT_EQ(d2.Wait().code(), ErrorCode::kAlreadyExists);
  // Writes queued with the refused ones are not held back by them.
  Durable d3;
  store->PutLease({Ip("10.66.0.101"), Mac("52:54:00:00:00:02"), "", until, "", LeaseRecord::Kind::kActive},
                  d3.Callback());
  EXPECT_TRUE(d3.Wait().ok());
  auto leases = store->LoadLeases();
  ASSERT_TRUE(leases.ok());
  ASSERT_EQ(leases->size(), 2u);
  ExpectSame((*leases)[0], held);

  // The holder renews and releases it; then it is free for anyone.
  LeaseRecord renew = held;
  renew.expires_unix = until + 60;
  Durable d4;
  store->PutLease(renew, d4.Callback());
  EXPECT_TRUE(d4.Wait().ok());
  LeaseRecord release = renew;
  release.kind = LeaseRecord::Kind::kReleased;
  Durable d5;
  store->PutLease(release, d5.Callback());
  EXPECT_TRUE(d5.Wait().ok());
  LeaseRecord taken = held;
  taken.mac = Mac("52:54:00:00:00:03");
  Durable d6;
  store->PutLease(taken, d6.Callback());
  EXPECT_TRUE(d6.Wait().ok());
}

TEST_P(StoreContract, LeaseDeclinedByItsHolderIsQuarantined) {
  auto store = Open();
  const auto until = InAnHour();
  store->PutLease({Ip("10.66.0.100"), Mac("52:54:00:00:00:01"), "", until, "a", LeaseRecord::Kind::kActive},
                  nullptr);
  // The DHCP server records a DHCPDECLINE with the MAC cleared (dhcp/lease_table.cpp).
  const LeaseRecord declined{Ip("10.66.0.100"), MacAddress{}, "", until + 600, "", LeaseRecord::Kind::kDeclined};
  Durable d;
  store->PutLease(declined, d.Callback());
  ASSERT_TRUE(d.Wait().ok());
  auto leases = store->LoadLeases();
  ASSERT_TRUE(leases.ok());
  ASSERT_EQ(leases->size(), 1u);
  ExpectSame((*leases)[0], declined);
}

TEST_P(StoreContract, MachineRoundTrip) {
  MachineRecord m;
  m.mac = Mac("52:54:00:aa:bb:cc");
  m.name = "worker-1";
  m.state = MachineState::kFailed;
  m.reason = "install disk /dev/sda not found";
  m.uuid = "4c4c4544-0042-3510-8052-b4c04f4e4e32";
  m.arch = "x86_64";
  m.vendor_class = "PXEClient:Arch:00007:UNDI:003000";
  m.serial = "SN123";
  m.last_ip = Ip("10.66.0.150");
  m.first_seen_unix = 1000;
  m.last_seen_unix = 2000;
  m.state_changed_unix = 1500;
  MachineRecord discovered;
  discovered.mac = Mac("52:54:00:aa:bb:cd");  // everything else default
  {
    auto store = Open();
    store->PutMachine(discovered, nullptr);
    Durable d;
    store->PutMachine(m, d.Callback());
    ASSERT_TRUE(d.Wait().ok());
  }
  auto store = Open();
  auto machines = store->LoadMachines();
  ASSERT_TRUE(machines.ok()) << machines.status().ToString();
  ASSERT_EQ(machines->size(), 2u);
  const auto& got = (*machines)[0];
  EXPECT_EQ(got.mac, m.mac);
  EXPECT_EQ(got.name, m.name);
  EXPECT_EQ(got.state, m.state);
  EXPECT_EQ(got.reason, m.reason);
  EXPECT_EQ(got.uuid, m.uuid);
  EXPECT_EQ(got.arch, m.arch);
  EXPECT_EQ(got.vendor_class, m.vendor_class);
  EXPECT_EQ(got.serial, m.serial);
  EXPECT_EQ(got.last_ip, m.last_ip);
  EXPECT_EQ(got.first_seen_unix, m.first_seen_unix);
  EXPECT_EQ(got.last_seen_unix, m.last_seen_unix);
  EXPECT_EQ(got.state_changed_unix, m.state_changed_unix);
  const auto& d = (*machines)[1];
  EXPECT_EQ(d.mac, discovered.mac);
  EXPECT_EQ(d.state, MachineState::kDiscovered);
  EXPECT_TRUE(d.last_ip.IsUnspecified());
  EXPECT_EQ(d.name, "");

  // Every state survives the trip through its name.
  for (auto s : {MachineState::kDiscovered, MachineState::kPendingInstall, MachineState::kInstalling,
                 MachineState::kInstalled, MachineState::kRunning, MachineState::kReinstallRequested,
                 MachineState::kFailed}) {
    m.state = s;
    store->PutMachine(m, nullptr);
    ASSERT_TRUE(store->Flush().ok());
    auto again = store->LoadMachines();
    ASSERT_TRUE(again.ok());
    EXPECT_EQ((*again)[0].state, s) << MachineStateName(s);
  }
}

TEST_P(StoreContract, ClusterRecordRoundTripUpsertAcrossReopen) {
  ClusterRecord a;
  a.name = "prod";
  a.bootstrap = ClusterBootstrapState::kBootstrapping;
  a.node = "cp-1";
  a.reason = "cp-1:50000: Bootstrap: bootstrap is not available yet";
  a.attempts = 3;
  a.changed_unix = 1'900'000'000;
  ClusterRecord b;
  b.name = "lab";  // everything else default: pending, never called
  {
    auto store = Open();
    auto none = store->LoadClusters();
    ASSERT_TRUE(none.ok()) << none.status().ToString();
    EXPECT_TRUE(none->empty());
    store->PutCluster(b, nullptr);
    Durable d;
    store->PutCluster(a, d.Callback());
    ASSERT_TRUE(d.Wait().ok());
  }
  auto store = Open();
  auto clusters = store->LoadClusters();
  ASSERT_TRUE(clusters.ok()) << clusters.status().ToString();
  ASSERT_EQ(clusters->size(), 2u);
  const auto& lab = (*clusters)[0];  // by name
  EXPECT_EQ(lab.name, "lab");
  EXPECT_EQ(lab.bootstrap, ClusterBootstrapState::kPending);
  EXPECT_EQ(lab.node, "");
  EXPECT_EQ(lab.attempts, 0);
  const auto& prod = (*clusters)[1];
  EXPECT_EQ(prod.name, a.name);
  EXPECT_EQ(prod.bootstrap, a.bootstrap);
  EXPECT_EQ(prod.node, a.node);
  EXPECT_EQ(prod.reason, a.reason);
  EXPECT_EQ(prod.attempts, a.attempts);
  EXPECT_EQ(prod.changed_unix, a.changed_unix);

  // An upsert replaces the record; every state survives the trip through its name.
  for (auto s : {ClusterBootstrapState::kBootstrapped, ClusterBootstrapState::kFailed,
                 ClusterBootstrapState::kPending, ClusterBootstrapState::kBootstrapping}) {
    a.bootstrap = s;
    a.attempts += 1;
    store->PutCluster(a, nullptr);
    ASSERT_TRUE(store->Flush().ok());
    auto again = store->LoadClusters();
    ASSERT_TRUE(again.ok());
    ASSERT_EQ(again->size(), 2u);
    EXPECT_EQ((*again)[1].bootstrap, s) << ClusterBootstrapStateName(s);
    EXPECT_EQ((*again)[1].attempts, a.attempts);
  }
}

TEST_P(StoreContract, UpgradeRecordRoundTripUpsertAcrossReopen) {
  UpgradeRecord a;
  a.cluster = "prod";
  a.version = "v1.9.6";
  a.schematic = std::string(64, 'a');
  a.state = UpgradeRunState::kRunning;
  a.node = "cp-1";
  a.node_since_ms = 1'900'000'000'123;
  a.done = {"wk-1", "wk-2"};
  a.changed_unix = 1'900'000'000;
  a.pinned_version = "v1.9.6";
  a.pinned_schematic = a.schematic;
  UpgradeRecord b;
  b.cluster = "lab";
  b.version = "v1.10.0";
  b.state = UpgradeRunState::kFailed;
  b.reason = "wk-1 refused the upgrade: error validating installer image";
  {
    auto store = Open();
    auto none = store->LoadUpgrades();
    ASSERT_TRUE(none.ok()) << none.status().ToString();
    EXPECT_TRUE(none->empty());
    store->PutUpgrade(b, nullptr);
    Durable d;
    store->PutUpgrade(a, d.Callback());
    ASSERT_TRUE(d.Wait().ok());
  }
  auto store = Open();
  auto upgrades = store->LoadUpgrades();
  ASSERT_TRUE(upgrades.ok()) << upgrades.status().ToString();
  ASSERT_EQ(upgrades->size(), 2u);
  const auto& lab = (*upgrades)[0];  // by cluster
  EXPECT_EQ(lab.cluster, "lab");
  EXPECT_EQ(lab.state, UpgradeRunState::kFailed);
  EXPECT_EQ(lab.reason, b.reason);
  EXPECT_TRUE(lab.done.empty());
  EXPECT_EQ(lab.node, "");
  const auto& prod = (*upgrades)[1];
  EXPECT_EQ(prod.cluster, a.cluster);
  EXPECT_EQ(prod.version, a.version);
  EXPECT_EQ(prod.schematic, a.schematic);
  EXPECT_EQ(prod.state, a.state);
  EXPECT_EQ(prod.node, a.node);
  EXPECT_EQ(prod.node_since_ms, a.node_since_ms);
  EXPECT_EQ(prod.done, a.done);
  EXPECT_EQ(prod.changed_unix, a.changed_unix);
  EXPECT_EQ(prod.pinned_version, a.pinned_version);
  EXPECT_EQ(prod.pinned_schematic, a.pinned_schematic);
  EXPECT_EQ(lab.pinned_version, "");

  // An upsert replaces the record; every state survives the trip through its name.
  for (auto s : {UpgradeRunState::kDone, UpgradeRunState::kFailed, UpgradeRunState::kRunning}) {
    a.state = s;
    a.done.push_back("cp-" + std::string(UpgradeRunStateName(s)));
    store->PutUpgrade(a, nullptr);
    ASSERT_TRUE(store->Flush().ok());
    auto again = store->LoadUpgrades();
    ASSERT_TRUE(again.ok());
    ASSERT_EQ(again->size(), 2u);
    EXPECT_EQ((*again)[1].state, s) << UpgradeRunStateName(s);
    EXPECT_EQ((*again)[1].done, a.done);
  }
}

// configDelivery apply's targets (a Hetzner server whose image is written,
// waiting in maintenance mode): they survive a restart, a put replaces the
// MAC's record, a delete removes it and deleting an absent one is no error.
TEST_P(StoreContract, ApplyTargetRoundTripReplaceDeleteAcrossReopen) {
  const ApplyTargetRecord a{Mac("a8:a1:59:16:00:01"), "hz-1", Ip("203.0.113.21"), 1'900'000'000};
  const ApplyTargetRecord b{Mac("a8:a1:59:16:00:02"), "hz-2", Ip("203.0.113.22"), 1'900'000'100};
  {
    auto store = Open();
    auto none = store->LoadApplyTargets();
    ASSERT_TRUE(none.ok()) << none.status().ToString();
    EXPECT_TRUE(none->empty());
    store->PutApplyTarget(b, nullptr);
    Durable d;
    store->PutApplyTarget(a, d.Callback());
    ASSERT_TRUE(d.Wait().ok());
  }
  auto store = Open();
  auto targets = store->LoadApplyTargets();
  ASSERT_TRUE(targets.ok()) << targets.status().ToString();
  ASSERT_EQ(targets->size(), 2u);
  const auto& first = (*targets)[0];  // by MAC
  EXPECT_EQ(first.mac, a.mac);
  EXPECT_EQ(first.machine, "hz-1");
  EXPECT_EQ(first.address, a.address);
  EXPECT_EQ(first.since_unix, a.since_unix);
  EXPECT_EQ((*targets)[1].mac, b.mac);
  EXPECT_EQ((*targets)[1].address, b.address);

  // A second reinstall of hz-1 waits at another address: replaced, not added.
  ApplyTargetRecord moved = a;
  moved.address = Ip("203.0.113.99");
  moved.since_unix = a.since_unix + 60;
  store->PutApplyTarget(moved, nullptr);
  Durable gone;
  store->DeleteApplyTarget(b.mac, nullptr);
  store->DeleteApplyTarget(Mac("a8:a1:59:16:00:03"), gone.Callback());  // never a target
  ASSERT_TRUE(gone.Wait().ok());
  auto again = store->LoadApplyTargets();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].mac, a.mac);
  EXPECT_EQ((*again)[0].address, moved.address);
  EXPECT_EQ((*again)[0].since_unix, moved.since_unix);
  store.reset();
  auto reopened = Open()->LoadApplyTargets();
  ASSERT_TRUE(reopened.ok());
  ASSERT_EQ(reopened->size(), 1u);
  EXPECT_EQ((*reopened)[0].address, moved.address);
}

TEST_P(StoreContract, TokenRoundTripUpdateAndExpiry) {
  TokenRecord bound{std::string(64, 'a'), Mac("52:54:00:00:00:01"), Ip("10.66.0.100"), 1000, 2000, 5, 0};
  TokenRecord unbound{std::string(64, 'b'), Mac("52:54:00:00:00:02"), std::nullopt, 1000, 3000, 3, 1};
  {
    auto store = Open();
    store->PutToken(bound, nullptr);
    store->PutToken(unbound, nullptr);
    bound.fetches = 2;  // a fetch updates the same row
    store->PutToken(bound, nullptr);
    ASSERT_TRUE(store->Flush().ok());
  }
  auto store = Open();
  auto tokens = store->LoadTokens();
  ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
  ASSERT_EQ(tokens->size(), 2u);
  const auto& t0 = (*tokens)[0];
  EXPECT_EQ(t0.token_hash, bound.token_hash);
  EXPECT_EQ(t0.mac, bound.mac);
  ASSERT_TRUE(t0.bound_ip.has_value());
  EXPECT_EQ(*t0.bound_ip, *bound.bound_ip);
  EXPECT_EQ(t0.issued_unix, 1000);
  EXPECT_EQ(t0.expires_unix, 2000);
  EXPECT_EQ(t0.max_fetches, 5);
  EXPECT_EQ(t0.fetches, 2);
  const auto& t1 = (*tokens)[1];
  EXPECT_EQ(t1.token_hash, unbound.token_hash);
  EXPECT_FALSE(t1.bound_ip.has_value());
  EXPECT_EQ(t1.fetches, 1);

  Durable d;
  store->DeleteExpiredTokens(1999, d.Callback());
  ASSERT_TRUE(d.Wait().ok());
  EXPECT_EQ(store->LoadTokens()->size(), 2u);
  Durable d2;
  store->DeleteExpiredTokens(2000, d2.Callback());  // expires == now counts as expired
  ASSERT_TRUE(d2.Wait().ok());
  tokens = store->LoadTokens();
  ASSERT_EQ(tokens->size(), 1u);
  EXPECT_EQ((*tokens)[0].token_hash, unbound.token_hash);
}

TEST_P(StoreContract, EventsRoundTripPagingAndStamp) {
  auto store = Open();
  for (int i = 0; i < 10; ++i) {
    store->AppendEvent({0, 1000 + i, "cp-1", "state", "event " + std::to_string(i)}, nullptr);
  }
  store->AppendEvent({0, 0, "52:54:00:00:00:09", "dhcp", "unstamped"}, nullptr);
  ASSERT_TRUE(store->Flush().ok());

  auto first = store->LoadEvents(0, 4);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->size(), 4u);
  EXPECT_EQ((*first)[0].message, "event 0");
  EXPECT_EQ((*first)[0].time_unix_ms, 1000);
  EXPECT_EQ((*first)[0].machine, "cp-1");
  EXPECT_EQ((*first)[0].kind, "state");
  for (std::size_t i = 1; i < first->size(); ++i) EXPECT_GT((*first)[i].id, (*first)[i - 1].id);

  auto rest = store->LoadEvents(first->back().id, 100);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 7u);
  EXPECT_EQ((*rest)[0].message, "event 4");
  EXPECT_EQ(rest->back().message, "unstamped");
  EXPECT_GT(rest->back().time_unix_ms, 1'600'000'000'000);  // stamped with the wall clock
  EXPECT_TRUE(store->LoadEvents(rest->back().id, 100)->empty());
}

TEST_P(StoreContract, EventsAreBoundedOldestPrunedFirst) {
  auto store = Open(/*max_events=*/50);
  for (int i = 0; i < 200; ++i) store->AppendEvent({0, i + 1, "m", "k", std::to_string(i)}, nullptr);
  ASSERT_TRUE(store->Flush().ok());
  auto events = store->LoadEvents(0, 1000);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 50u);
  EXPECT_EQ(events->front().message, "150");
  EXPECT_EQ(events->back().message, "199");
  // Ids keep growing after pruning: a reader paging by id never sees one twice.
  store->AppendEvent({0, 1, "m", "k", "late"}, nullptr);
  ASSERT_TRUE(store->Flush().ok());
  auto late = store->LoadEvents(events->back().id, 10);
  ASSERT_EQ(late->size(), 1u);
  EXPECT_EQ(late->front().message, "late");
}

TEST_P(StoreContract, CallbacksRunInOrderAndCloseFlushes) {
  std::vector<int> order;
  std::mutex mu;
  {
    auto store = Open();
    for (int i = 0; i < 500; ++i) {
      LeaseRecord l{Ipv4Address{0x0a420000u + static_cast<std::uint32_t>(i)}, Mac("52:54:00:00:00:01"), "", i, "",
                    LeaseRecord::Kind::kActive};
      store->PutLease(l, [&, i](const Status& st) {
        ASSERT_TRUE(st.ok()) << st.ToString();
        std::lock_guard lock(mu);
        order.push_back(i);
      });
    }
    // No Flush: the destructor must apply everything and run every callback.
  }
  ASSERT_EQ(order.size(), 500u);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(order[i], i);
  auto store = Open();
  EXPECT_EQ(store->LoadLeases()->size(), 500u);
}

TEST_P(StoreContract, FlushFromACallbackIsRefusedNotDeadlocked) {
  auto store = Open();
  Status inner;
  store->PutLease({Ip("10.0.0.1"), Mac("52:54:00:00:00:01"), "", 1, "", LeaseRecord::Kind::kActive},
                  [&](const Status&) { inner = store->Flush(); });
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(inner.code(), ErrorCode::kFailedPrecondition);
}

TEST_P(StoreContract, ACallbackMayQueueMoreWrites) {
  auto store = Open();
  Durable second;
  store->AppendEvent({0, 1, "m", "k", "first"},
                     [&](const Status&) { store->AppendEvent({0, 2, "m", "k", "second"}, second.Callback()); });
  ASSERT_TRUE(second.Wait().ok());
  EXPECT_EQ(store->LoadEvents(0, 10)->size(), 2u);
}

TimelineEntry Entry(const char* mac, std::int64_t seq, TimelineSource source, std::string summary,
                    std::string details = "") {
  TimelineEntry e;
  e.mac = Mac(mac);
  e.seq = seq;
  e.time_unix_ms = 1'700'000'000'000 + seq;
  e.source = source;
  e.summary = std::move(summary);
  e.details = std::move(details);
  e.repeats = static_cast<std::uint32_t>(seq % 3);
  e.last_unix_ms = e.time_unix_ms + e.repeats * 1000;
  return e;
}

void ExpectSameEntry(const TimelineEntry& a, const TimelineEntry& b) {
  EXPECT_EQ(a.mac, b.mac);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.time_unix_ms, b.time_unix_ms);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.summary, b.summary);
  EXPECT_EQ(a.details, b.details);
  EXPECT_EQ(a.repeats, b.repeats);
  EXPECT_EQ(a.last_unix_ms, b.last_unix_ms);
}

TEST_P(StoreContract, TimelineRoundTripPerMachineAcrossReopen) {
  // Seqs past 2^40 (the recorder's are clock-based) and every source.
  const std::int64_t base = std::int64_t{1'700'000'000'000} * 1000;
  std::vector<TimelineEntry> a;
  for (int i = 0; i < 7; ++i)
    a.push_back(Entry("52:54:00:00:00:0a", base + i, static_cast<TimelineSource>(i), "step " + std::to_string(i),
                      "n=" + std::to_string(i)));
  const auto b = Entry("52:54:00:00:00:0b", base + 3, TimelineSource::kHttp, "GET /boot.ipxe", "decided=install");
  {
    auto store = Open();
    // Written newest first: loads come back in seq order whatever the write order.
    for (auto it = a.rbegin(); it != a.rend(); ++it) store->PutTimelineEntry(*it, nullptr);
    Durable d;
    store->PutTimelineEntry(b, d.Callback());
    ASSERT_TRUE(d.Wait().ok());
  }
  auto store = Open();
  auto got = store->LoadTimeline(Mac("52:54:00:00:00:0a"), 100);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), a.size());
  for (std::size_t i = 0; i < a.size(); ++i) ExpectSameEntry((*got)[i], a[i]);
  auto other = store->LoadTimeline(Mac("52:54:00:00:00:0b"), 100);
  ASSERT_TRUE(other.ok());
  ASSERT_EQ(other->size(), 1u);
  ExpectSameEntry((*other)[0], b);
  auto none = store->LoadTimeline(Mac("52:54:00:00:00:0c"), 100);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreContract, TimelineLoadLimitGivesTheNewestOldestFirst) {
  auto store = Open();
  for (int i = 1; i <= 20; ++i)
    store->PutTimelineEntry(Entry("52:54:00:00:00:0a", i, TimelineSource::kDhcp, "e" + std::to_string(i)), nullptr);
  ASSERT_TRUE(store->Flush().ok());
  auto got = store->LoadTimeline(Mac("52:54:00:00:00:0a"), 5);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ((*got)[static_cast<std::size_t>(i)].seq, 16 + i);
  EXPECT_TRUE(store->LoadTimeline(Mac("52:54:00:00:00:0a"), 0)->empty());
}

TEST_P(StoreContract, TimelinePutReplacesTheSameSeq) {
  auto store = Open();
  store->PutTimelineEntry(Entry("52:54:00:00:00:0a", 5, TimelineSource::kDhcp, "first"), nullptr);
  store->PutTimelineEntry(Entry("52:54:00:00:00:0a", 5, TimelineSource::kTftp, "second", "x"), nullptr);
  ASSERT_TRUE(store->Flush().ok());
  auto got = store->LoadTimeline(Mac("52:54:00:00:00:0a"), 10);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].summary, "second");
  EXPECT_EQ((*got)[0].source, TimelineSource::kTftp);
}

TEST_P(StoreContract, TimelineTrimRemovesOnlyOlderEntriesOfThatMachine) {
  auto store = Open();
  for (int i = 1; i <= 10; ++i) {
    store->PutTimelineEntry(Entry("52:54:00:00:00:0a", i, TimelineSource::kHttp, "a" + std::to_string(i)), nullptr);
    store->PutTimelineEntry(Entry("52:54:00:00:00:0b", i, TimelineSource::kHttp, "b" + std::to_string(i)), nullptr);
  }
  // A trim queued right behind the puts it removes: it applies after them.
  Durable d;
  store->TrimTimeline(Mac("52:54:00:00:00:0a"), 8, d.Callback());
  // Written after the trim, below its line: kept (the trim is not a floor).
  store->PutTimelineEntry(Entry("52:54:00:00:00:0a", 2, TimelineSource::kHttp, "late"), nullptr);
  ASSERT_TRUE(d.Wait().ok());
  ASSERT_TRUE(store->Flush().ok());
  auto a = store->LoadTimeline(Mac("52:54:00:00:00:0a"), 100);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->size(), 4u);
  EXPECT_EQ((*a)[0].summary, "late");
  EXPECT_EQ((*a)[1].seq, 8);
  EXPECT_EQ((*a)[3].seq, 10);
  EXPECT_EQ(store->LoadTimeline(Mac("52:54:00:00:00:0b"), 100)->size(), 10u);
  // Trimming a machine with nothing stored, or everything, is fine.
  Durable none, all;
  store->TrimTimeline(Mac("52:54:00:00:00:0c"), 100, none.Callback());
  store->TrimTimeline(Mac("52:54:00:00:00:0b"), std::int64_t{1} << 62, all.Callback());
  ASSERT_TRUE(none.Wait().ok());
  ASSERT_TRUE(all.Wait().ok());
  EXPECT_TRUE(store->LoadTimeline(Mac("52:54:00:00:00:0b"), 100)->empty());
}

TEST_P(StoreContract, TimelineKeepsAnyTextAsItWas) {
  auto store = Open();
  // Details are cleaned by the recorder, not the store: the store keeps bytes.
  const std::string odd("\xff\x00zz \"quoted\" \\ /", 15);
  store->PutTimelineEntry(Entry("52:54:00:00:00:0a", 1, TimelineSource::kKmsg, odd, "é ✓"), nullptr);
  ASSERT_TRUE(store->Flush().ok());
  auto got = store->LoadTimeline(Mac("52:54:00:00:00:0a"), 10);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].summary, odd);
  EXPECT_EQ((*got)[0].details, "é ✓");
}

}  // namespace
}  // namespace metalpxe::testing
