// EtcdStore when things break, on a real 3-member etcd: a member killed
// while writes flow (they go on, none lost or failed); the quorum lost
// (writes fail with the no-quorum reason within the call timeout instead of
// hanging, and work again when it returns); an appliance killed with -9
// while writing (every lease it acknowledged is in etcd).
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "etcd/etcd_errors.h"
#include "etcd/etcd_store.h"
#include "tests/etcd/etcd_test_env.h"
#include "tests/store/store_test_util.h"
#include "tests/support/paths.h"

METALPXE_ETCD_TEST_NETNS("etcdfa");

namespace metalpxe::etcd {
namespace {

using namespace std::chrono_literals;
using testing::EtcdCluster;
using testing::Subprocess;
using testing::WaitFor;

std::unique_ptr<EtcdStore> OpenStore(EtcdCluster& cluster, const std::string& prefix,
                                     std::chrono::milliseconds call_timeout = 5s) {
  auto o = cluster.ClientOptions();
  o.call_timeout = call_timeout;
  auto c = EtcdClient::Create(o);
  if (!c.ok()) throw std::runtime_error(c.status().ToString());
  auto s = EtcdStore::Open(*c, prefix);
  if (!s.ok()) throw std::runtime_error(s.status().ToString());
  return std::move(s).value();
}

LeaseRecord Lease(std::uint32_t i) {
  return {Ipv4Address{0x0a000000u + i},
          MacAddress{{0x52, 0x54, 0, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
                      static_cast<std::uint8_t>(i)}},
          "", 1'900'000'000, "", LeaseRecord::Kind::kActive};
}

// Writes leases with a bounded number outstanding, like a DHCP server
// holding its ACKs, and counts outcomes.
class LeaseWriter {
 public:
  explicit LeaseWriter(EtcdStore& store) : store_(store) {}
  void Write(std::uint32_t first, std::uint32_t count, int window) {
    for (std::uint32_t i = first; i < first + count; ++i) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return outstanding_ < window; });
        ++outstanding_;
      }
      store_.PutLease(Lease(i), [this, i](const Status& st) {
        std::lock_guard lock(mu_);
        --outstanding_;
        if (st.ok()) acked_.insert(i);
        else failures_.push_back(st);
        cv_.notify_all();
      });
    }
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return outstanding_ == 0; });
  }
  std::set<std::uint32_t> acked() { std::lock_guard lock(mu_); return acked_; }
  std::vector<Status> failures() { std::lock_guard lock(mu_); return failures_; }

 private:
  EtcdStore& store_;
  std::mutex mu_;
  std::condition_variable cv_;
  int outstanding_ = 0;
  std::set<std::uint32_t> acked_;
  std::vector<Status> failures_;
};

TEST(EtcdStoreFailure, OneMemberKilledWritesGoOn) {
  EtcdCluster cluster;
  auto store = OpenStore(cluster, "/f1/");
  LeaseWriter w(*store);
  std::thread writer([&] { w.Write(0, 6000, 256); });
  // Kill the member the store talks to while writes are in flight.
  ASSERT_TRUE(WaitFor([&] { return w.acked().size() >= 1000; }, 60s));
  cluster.Kill(0);
  writer.join();
  for (const auto& f : w.failures()) ADD_FAILURE() << f.ToString();
  EXPECT_EQ(w.acked().size(), 6000u);
  auto leases = store->LoadLeases();
  ASSERT_TRUE(leases.ok()) << leases.status().ToString();
  EXPECT_EQ(leases->size(), 6000u);
  std::printf("one member killed mid-run: %zu acknowledged, %zu failed, %llu transactions\n", w.acked().size(),
              w.failures().size(), static_cast<unsigned long long>(store->Stats().commits));
}

TEST(EtcdStoreFailure, QuorumLostWritesFailWithTheReasonAndRecover) {
  EtcdCluster cluster;
  auto store = OpenStore(cluster, "/f2/", 3s);
  testing::Durable first;
  store->PutLease(Lease(0), first.Callback());
  ASSERT_TRUE(first.Wait().ok());
  cluster.Kill(1);
  cluster.Kill(2);
  // Each write is answered within the call timeout (never hangs); once the
  // survivor has noticed, the answer says "no quorum".
  Status last;
  std::uint32_t n = 1;
  const bool no_quorum = WaitFor(
      [&] {
        testing::Durable d;
        const auto start = std::chrono::steady_clock::now();
        store->PutLease(Lease(n++), d.Callback());
        last = d.Wait();
        EXPECT_LT(std::chrono::steady_clock::now() - start, 3s + 3s);
        EXPECT_FALSE(last.ok());
        return IsNoQuorum(last);
      },
      40s);
  EXPECT_TRUE(no_quorum) << last.ToString();
  std::printf("without quorum: %s\n", last.message().c_str());
  EXPECT_TRUE(store->client()->Health().no_quorum);
  // Loads fail the same way instead of returning a stale view.
  EXPECT_FALSE(store->LoadLeases().ok());

  cluster.Restart(1);
  const bool recovered = WaitFor(
      [&] {
        testing::Durable d;
        store->PutLease(Lease(100000), d.Callback());
        return d.Wait().ok();
      },
      60s);
  EXPECT_TRUE(recovered) << cluster.AllLogs();
  auto leases = store->LoadLeases();
  ASSERT_TRUE(leases.ok()) << leases.status().ToString();
  std::set<std::uint32_t> present;
  for (const auto& l : *leases) present.insert(l.ip.value - 0x0a000000u);
  EXPECT_TRUE(present.count(0));       // acknowledged before the loss
  EXPECT_TRUE(present.count(100000));  // after it came back
}

// Acknowledged addresses a peer tool printed, complete lines only (the last
// one may have been cut by the kill).
std::set<std::string> AckedLines(const Subprocess& p) {
  std::set<std::string> out;
  const std::string text = p.Stdout();
  std::istringstream in(text.substr(0, text.rfind('\n') + 1));
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.insert(line);
  return out;
}

TEST(EtcdStoreFailure, NoAcknowledgedLeaseIsLostWhenTheApplianceIsKilled) {
  EtcdCluster cluster;
  std::string urls;
  for (const auto& ep : cluster.endpoints()) urls += (urls.empty() ? "" : ",") + ep.url;
  const std::string tool = testing::BinaryDir() + "/tests/etcd/etcd_peer_tool";
  std::set<std::string> all_acked;
  for (int round = 0; round < 3; ++round) {
    const std::string first_ip = "10." + std::to_string(round + 1) + ".0.0";
    auto p = Subprocess::Start({tool, "write-leases", urls, "/f3/", first_ip, "1000000", "512"});
    const std::size_t kill_after = 2000 + static_cast<std::size_t>(round) * 1500;
    const bool reached = WaitFor([&] { return AckedLines(p).size() >= kill_after || !p.Running(); }, 120s);
    p.Kill(SIGKILL);
    p.Wait(10s);
    ASSERT_TRUE(reached && AckedLines(p).size() >= kill_after) << p.Describe();
    const auto acked = AckedLines(p);
    all_acked.insert(acked.begin(), acked.end());

    auto store = OpenStore(cluster, "/f3/");
    auto leases = store->LoadLeases();
    ASSERT_TRUE(leases.ok()) << leases.status().ToString();
    std::set<std::string> present;
    for (const auto& l : *leases) {
      present.insert(l.ip.ToString());
      EXPECT_EQ(l.hostname, "peer");  // whole records, nothing torn
    }
    std::size_t missing = 0;
    for (const auto& ip : all_acked) missing += present.count(ip) == 0;
    EXPECT_EQ(missing, 0u) << "round " << round << ": " << missing << " of " << all_acked.size()
                           << " acknowledged leases lost";
    EXPECT_GE(present.size(), all_acked.size());
    std::printf("round %d: %zu acknowledged before kill -9, %zu leases in etcd\n", round, acked.size(),
                present.size());
  }
}

}  // namespace
}  // namespace metalpxe::etcd
