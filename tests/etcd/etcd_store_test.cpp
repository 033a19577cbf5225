// EtcdStore on a real 3-member etcd: the Store contract shared with
// SqliteStore (tests/store/store_contract.cpp), then what only a shared
// store has to get right: two appliances granting the same addresses (one
// wins each, never both), event ids that stay ordered across appliances,
// group commit within etcd's transaction limits, and records too big for
// one request.
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "etcd/etcd_kv.h"
#include "etcd/etcd_store.h"
#include "tests/etcd/etcd_test_env.h"
#include "tests/store/store_contract.h"
#include "tests/store/store_test_util.h"

METALPXE_ETCD_TEST_NETNS("etcdst");

namespace metalpxe::etcd {
namespace {

using namespace std::chrono_literals;
using testing::Durable;
using testing::EtcdCluster;
using testing::StoreContract;

// One cluster for the whole binary, started after the namespace exists.
class ClusterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { cluster = std::make_unique<EtcdCluster>(); }
  void TearDown() override { cluster.reset(); }
  static std::unique_ptr<EtcdCluster> cluster;
};
std::unique_ptr<EtcdCluster> ClusterEnvironment::cluster;
[[maybe_unused]] ::testing::Environment* const cluster_env =
    ::testing::AddGlobalTestEnvironment(new ClusterEnvironment);

std::shared_ptr<EtcdClient> Client(const std::vector<int>& members = {0, 1, 2}) {
  auto c = EtcdClient::Create(ClusterEnvironment::cluster->ClientOptionsFor(members));
  if (!c.ok()) throw std::runtime_error(c.status().ToString());
  return std::move(c).value();
}

std::string FreshPrefix() {
  static std::atomic<int> n{0};
  return "/mpx-test-" + std::to_string(n++) + "/";
}

std::unique_ptr<EtcdStore> OpenStore(const std::string& prefix, EtcdStoreOptions o = {},
                                     const std::vector<int>& members = {0, 1, 2}) {
  auto s = EtcdStore::Open(Client(members), prefix, o);
  if (!s.ok()) throw std::runtime_error(s.status().ToString());
  return std::move(s).value();
}

// Each test gets its own key prefix on the shared cluster; every Open is a
// new client and store on it (a reopen, as after an appliance restart).
class EtcdBackend : public testing::StoreBackend {
 public:
  std::unique_ptr<Store> Open(std::size_t max_events) override {
    EtcdStoreOptions o;
    o.max_events = max_events;
    return OpenStore(prefix_, o);
  }

 private:
  std::string prefix_ = FreshPrefix();
};

INSTANTIATE_TEST_SUITE_P(Etcd, StoreContract,
                         ::testing::Values(testing::StoreBackendFactory{
                             "etcd", [] { return std::make_unique<EtcdBackend>(); }}),
                         testing::StoreBackendName);

std::int64_t InAnHour() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
             .count() +
         3600;
}

MacAddress MacOf(int appliance, int i) {
  return MacAddress{{0x52, 0x54, static_cast<std::uint8_t>(appliance), 0, static_cast<std::uint8_t>(i >> 8),
                     static_cast<std::uint8_t>(i)}};
}

TEST(EtcdStore, TwoAppliancesNeverGrantOneAddressToTwoMacs) {
  const std::string prefix = FreshPrefix();
  // Both open before either writes: each starts with the same (empty) view.
  auto a = OpenStore(prefix, {}, {0, 1, 2});
  auto b = OpenStore(prefix, {}, {2, 0, 1});
  constexpr int kAddresses = 300;
  const auto until = InAnHour();
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  std::map<std::uint32_t, std::set<int>> winners;  // address -> appliances told "granted"
  std::map<int, int> refused;
  auto grant = [&](EtcdStore& store, int appliance) {
    for (int i = 0; i < kAddresses; ++i) {
      LeaseRecord l{Ipv4Address{0x0a420000u + static_cast<std::uint32_t>(i)}, MacOf(appliance, i), "", until, "",
                    LeaseRecord::Kind::kActive};
      store.PutLease(l, [&, appliance, ip = l.ip.value](const Status& st) {
        std::lock_guard lock(mu);
        if (st.ok()) winners[ip].insert(appliance);
        else if (st.code() == ErrorCode::kAlreadyExists) ++refused[appliance];
        else ADD_FAILURE() << st.ToString();
        ++answered;
        cv.notify_all();
      });
    }
  };
  std::thread ta([&] { grant(*a, 1); });
  std::thread tb([&] { grant(*b, 2); });
  ta.join();
  tb.join();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 120s, [&] { return answered == 2 * kAddresses; }));
  }
  auto leases = a->LoadLeases();
  ASSERT_TRUE(leases.ok()) << leases.status().ToString();
  ASSERT_EQ(leases->size(), std::size_t(kAddresses));
  for (const auto& l : *leases) {
    const auto& w = winners[l.ip.value];
    ASSERT_EQ(w.size(), 1u) << l.ip.ToString() << " granted by " << w.size() << " appliances";
    EXPECT_EQ(l.mac, MacOf(*w.begin(), static_cast<int>(l.ip.value - 0x0a420000u))) << l.ip.ToString();
  }
  EXPECT_EQ(refused[1] + refused[2], kAddresses);
  const auto sa = a->Stats(), sb = b->Stats();
  std::printf("appliance 1: %d granted, %d refused; appliance 2: %d granted, %d refused; "
              "compare conflicts %llu + %llu\n",
              kAddresses - refused[1], refused[1], kAddresses - refused[2], refused[2],
              static_cast<unsigned long long>(sa.conflicts), static_cast<unsigned long long>(sb.conflicts));
  // A stale view is caught by the compare, not trusted: b refuses what a holds.
  LeaseRecord again{Ipv4Address{0x0a420000u}, MacOf(3, 0), "", until, "", LeaseRecord::Kind::kActive};
  Durable d;
  b->PutLease(again, d.Callback());
  EXPECT_EQ(d.Wait().code(), ErrorCode::kAlreadyExists);
}

// Shared values (core/shared_values.h): appliances starting at once each
// offer a candidate; one wins and every one gets it, and the key is written
// once. Changing values are compare-and-swapped on the key's revision.
TEST(EtcdStore, SharedValuesAreMadeOnceAndChangedByCompareAndSwap) {
  const std::string prefix = FreshPrefix();
  constexpr int kAppliances = 4;
  std::vector<std::unique_ptr<EtcdStore>> stores;
  for (int i = 0; i < kAppliances; ++i) stores.push_back(OpenStore(prefix, {}, {i % 3, (i + 1) % 3, (i + 2) % 3}));
  std::vector<std::string> got(kAppliances);
  std::vector<std::thread> threads;
  for (int i = 0; i < kAppliances; ++i)
    threads.emplace_back([&, i] {
      auto r = stores[i]->CreateOnce("token-key", Secret("candidate-" + std::to_string(i)));
      got[i] = r.ok() ? r->Reveal() : "error: " + r.status().ToString();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(got[0].rfind("candidate-", 0), 0u) << got[0];
  for (const auto& g : got) EXPECT_EQ(g, got[0]);
  auto kv = stores[0]->client()->RangeSync(GetRequest(prefix + "shared/token-key"));
  ASSERT_TRUE(kv.ok() && kv->kvs_size() == 1);
  EXPECT_EQ(kv->kvs(0).version(), 1);  // written once
  EXPECT_EQ(stores[1]->CreateOnce("token-key", Secret("late"))->Reveal(), got[0]);

  auto absent = stores[0]->Read("revoked");
  ASSERT_TRUE(absent.ok());
  EXPECT_EQ(absent->revision, 0);
  EXPECT_EQ(absent->value, "");
  EXPECT_TRUE(*stores[0]->Replace("revoked", 0, "aa\n"));
  EXPECT_FALSE(*stores[1]->Replace("revoked", 0, "bb\n"));  // not absent any more
  auto read = stores[1]->Read("revoked");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->value, "aa\n");
  EXPECT_TRUE(*stores[1]->Replace("revoked", read->revision, "aa\nbb\n"));
  EXPECT_FALSE(*stores[0]->Replace("revoked", read->revision, "cc\n"));  // a stale revision loses
  EXPECT_EQ(stores[0]->Read("revoked")->value, "aa\nbb\n");
}

TEST(EtcdStore, EventIdsGrowInCommitOrderAcrossAppliances) {
  const std::string prefix = FreshPrefix();
  auto a = OpenStore(prefix);
  auto b = OpenStore(prefix);
  std::thread ta([&] {
    for (int i = 0; i < 200; ++i) a->AppendEvent({0, 0, "a", "k", "a" + std::to_string(i)}, nullptr);
  });
  std::thread tb([&] {
    for (int i = 0; i < 200; ++i) b->AppendEvent({0, 0, "b", "k", "b" + std::to_string(i)}, nullptr);
  });
  ta.join();
  tb.join();
  ASSERT_TRUE(a->Flush().ok());
  ASSERT_TRUE(b->Flush().ok());
  auto events = a->LoadEvents(0, 1000);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 400u);
  // Dense, unique, increasing; each appliance's own events in its order.
  int next_a = 0, next_b = 0;
  for (std::size_t i = 0; i < events->size(); ++i) {
    const auto& e = (*events)[i];
    EXPECT_EQ(e.id, static_cast<std::int64_t>(i + 1));
    const int n = e.machine == "a" ? next_a++ : next_b++;
    EXPECT_EQ(e.message, e.machine + std::to_string(n));
  }
}

TEST(EtcdStore, GroupCommitStaysWithinEtcdLimits) {
  EtcdStoreOptions o;
  o.max_txn_ops = 64;  // smaller than etcd's 128: the writer must split on its own count
  auto store = OpenStore(FreshPrefix(), o);
  constexpr int kWrites = 3000;
  std::mutex mu;
  std::condition_variable cv;
  int ok = 0, failed = 0;
  for (int i = 0; i < kWrites; ++i) {
    LeaseRecord l{Ipv4Address{0x0a000000u + static_cast<std::uint32_t>(i)}, MacOf(1, i), "", 1'900'000'000, "",
                  LeaseRecord::Kind::kActive};
    store->PutLease(l, [&](const Status& st) {
      std::lock_guard lock(mu);
      (st.ok() ? ok : failed)++;
      cv.notify_all();
    });
    if (i % 10 == 0) store->AppendEvent({0, 0, "m", "dhcp", "ack " + std::to_string(i)}, nullptr);
  }
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 120s, [&] { return ok + failed == kWrites; }));
  }
  EXPECT_EQ(failed, 0);
  ASSERT_TRUE(store->Flush().ok());
  const auto stats = store->Stats();
  EXPECT_LT(stats.commits, stats.writes / 10);  // shared transactions, not one per write
  EXPECT_LE(stats.largest_batch, 64u);
  EXPECT_EQ(stats.failed_writes, 0u);
  std::printf("%d leases + %d events: %llu transactions, largest %llu writes\n", kWrites, kWrites / 10,
              static_cast<unsigned long long>(stats.commits), static_cast<unsigned long long>(stats.largest_batch));
  EXPECT_EQ(store->LoadLeases()->size(), std::size_t(kWrites));
}

TEST(EtcdStore, ARecordTooBigForOneRequestFailsAloneAndSaysWhy) {
  auto store = OpenStore(FreshPrefix());
  Durable before, huge, after;
  store->AppendEvent({0, 0, "m", "k", "small"}, before.Callback());
  store->AppendEvent({0, 0, "m", "k", std::string(2 * 1024 * 1024, 'x')}, huge.Callback());
  store->AppendEvent({0, 0, "m", "k", "small too"}, after.Callback());
  EXPECT_TRUE(before.Wait().ok());
  const Status st = huge.Wait();
  EXPECT_EQ(st.code(), ErrorCode::kResourceExhausted) << st.ToString();
  EXPECT_NE(st.message().find("does not fit"), std::string::npos) << st.message();
  EXPECT_TRUE(after.Wait().ok());
  EXPECT_EQ(store->LoadEvents(0, 10)->size(), 2u);
}

TEST(EtcdStore, AValueDamagedInEtcdIsReportedWithItsKey) {
  const std::string prefix = FreshPrefix();
  auto client = Client();
  pb::PutRequest put;
  put.set_key(prefix + "machines/52:54:00:00:00:01");
  put.set_value("{not json");
  ASSERT_TRUE(client->PutSync(put).ok());
  auto store = OpenStore(prefix);
  auto machines = store->LoadMachines();
  EXPECT_EQ(machines.status().code(), ErrorCode::kDataLoss);
  EXPECT_NE(machines.status().message().find(put.key()), std::string::npos) << machines.status().ToString();
}

}  // namespace
}  // namespace metalpxe::etcd
