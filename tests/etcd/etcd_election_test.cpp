// Leader election on a real 3-member etcd: two candidates, one leader;
// resignation hands over at once; a leader whose process is killed (-9) is
// replaced once its lease expires (the takeover time is printed); a leader
// cut off from etcd steps down before anyone else can be elected; losing
// the quorum leaves nobody leading until it returns.
#include <signal.h>
#include <time.h>

#include <mutex>
#include <sstream>

#include <gtest/gtest.h>

#include "etcd/etcd_election.h"
#include "tests/etcd/etcd_test_env.h"
#include "tests/support/paths.h"

METALPXE_ETCD_TEST_NETNS("etcdel");

namespace metalpxe::etcd {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::EtcdCluster;
using testing::Subprocess;
using testing::WaitFor;

std::shared_ptr<EtcdClient> Client(const EtcdClientOptions& o) {
  auto c = EtcdClient::Create(o);
  if (!c.ok()) throw std::runtime_error(c.status().ToString());
  return std::move(c).value();
}

// A candidate in this process, with every status change timestamped.
class Candidate {
 public:
  Candidate(std::shared_ptr<EtcdClient> client, const std::string& key, const std::string& name, int ttl = 2) {
    ElectionOptions o;
    o.key = key;
    o.candidate = name;
    o.ttl_seconds = ttl;
    election_ = EtcdElection::Start(std::move(client), o, [this](const ElectionStatus& s) {
      std::lock_guard lock(mu_);
      history_.push_back({Clock::now(), s});
    });
  }
  bool leader() const { return election_ && election_->status().leader; }
  std::string holder() const { return election_->status().leader_name; }
  std::int64_t term() const { return election_->status().term; }
  // When the status last changed to leader=`to`.
  std::optional<Clock::time_point> LastChangeTo(bool to) const {
    std::lock_guard lock(mu_);
    for (auto it = history_.rbegin(); it != history_.rend(); ++it)
      if (it->second.leader == to) return it->first;
    return std::nullopt;
  }
  void Resign() { election_.reset(); }

 private:
  // Declared after what its callback touches: members are destroyed in
  // reverse order, and the election may report a last step-down while its
  // destructor stops it.
  mutable std::mutex mu_;
  std::vector<std::pair<Clock::time_point, ElectionStatus>> history_;
  std::unique_ptr<EtcdElection> election_;
};

TEST(EtcdElection, OneLeaderOfTwoAndResignationHandsOverAtOnce) {
  EtcdCluster cluster;
  Candidate a(Client(cluster.ClientOptions()), "/t/el/one", "a");
  Candidate b(Client(cluster.ClientOptionsFor({2, 1, 0})), "/t/el/one", "b");
  ASSERT_TRUE(WaitFor([&] { return a.leader() != b.leader() && a.holder() == b.holder() && !a.holder().empty(); },
                      20s));
  Candidate& leader = a.leader() ? a : b;
  Candidate& standby = a.leader() ? b : a;
  const auto first_term = leader.term();
  EXPECT_EQ(standby.term(), first_term);
  const auto start = Clock::now();
  leader.Resign();
  ASSERT_TRUE(WaitFor([&] { return standby.leader(); }, 10s));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  EXPECT_GT(standby.term(), first_term);  // a new term: writes fenced on the old one fail
  std::printf("handover on resignation: %lld ms\n", static_cast<long long>(took.count()));
}

long long MonotonicMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// The last "leader=1" line of a peer tool's output: its monotonic time.
std::optional<long long> BecameLeaderAt(const Subprocess& p) {
  std::istringstream in(p.Stdout());
  std::string line;
  std::optional<long long> at;
  while (std::getline(in, line)) {
    if (line.find(" leader=1 ") != std::string::npos) at = std::stoll(line.substr(0, line.find(' ')));
  }
  return at;
}

TEST(EtcdElection, TakeoverAfterTheLeaderProcessIsKilled) {
  EtcdCluster cluster;
  std::string urls;
  for (const auto& ep : cluster.endpoints()) urls += (urls.empty() ? "" : ",") + ep.url;
  const std::string tool = testing::BinaryDir() + "/tests/etcd/etcd_peer_tool";
  constexpr int kTtl = 3;
  auto p1 = Subprocess::Start({tool, "campaign", urls, "/t/el/dhcp", "appliance-1", std::to_string(kTtl)});
  ASSERT_TRUE(WaitFor([&] { return BecameLeaderAt(p1).has_value(); }, 30s)) << p1.Describe();
  auto p2 = Subprocess::Start({tool, "campaign", urls, "/t/el/dhcp", "appliance-2", std::to_string(kTtl)});
  ASSERT_TRUE(WaitFor([&] { return p2.Stdout().find("holder=appliance-1") != std::string::npos; }, 30s))
      << p2.Describe();
  EXPECT_FALSE(BecameLeaderAt(p2).has_value());

  const long long killed_at = MonotonicMs();
  p1.Kill(SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return BecameLeaderAt(p2).has_value(); }, 20s)) << p2.Describe();
  const long long takeover_ms = *BecameLeaderAt(p2) - killed_at;
  std::printf("takeover after kill -9 of the leader: %lld ms (lease TTL %d s)\n", takeover_ms, kTtl);
  // The goal of issue 20: a standby takes over within 10 s.
  EXPECT_LE(takeover_ms, 10'000);
  // Not before the dead leader's lease could have expired.
  EXPECT_GE(takeover_ms, 0);
}

TEST(EtcdElection, ALeaderCutOffFromEtcdStepsDownBeforeAnotherIsElected) {
  EtcdCluster cluster;
  // The leader reaches etcd only through member 0; the standby through 1 and 2.
  Candidate a(Client(cluster.ClientOptionsFor({0})), "/t/el/cut", "a");
  ASSERT_TRUE(WaitFor([&] { return a.leader(); }, 20s));
  Candidate b(Client(cluster.ClientOptionsFor({1, 2})), "/t/el/cut", "b");
  ASSERT_TRUE(WaitFor([&] { return b.holder() == "a"; }, 20s));
  cluster.Kill(0);
  ASSERT_TRUE(WaitFor([&] { return b.leader(); }, 20s));
  ASSERT_TRUE(WaitFor([&] { return !a.leader(); }, 20s));
  const auto stepped_down = a.LastChangeTo(false);
  const auto elected = b.LastChangeTo(true);
  ASSERT_TRUE(stepped_down && elected);
  // Never two leaders: the old one stopped acting before the new one started.
  EXPECT_LT(*stepped_down, *elected);
  std::printf("old leader stepped down %lld ms before the new one was elected\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(*elected - *stepped_down)
                                         .count()));
}

TEST(EtcdElection, NoLeaderWithoutQuorumAndOneAgainWhenItReturns) {
  EtcdCluster cluster;
  Candidate a(Client(cluster.ClientOptions()), "/t/el/q", "a");
  ASSERT_TRUE(WaitFor([&] { return a.leader(); }, 20s));
  cluster.Kill(1);
  cluster.Kill(2);
  // Its lease cannot be refreshed without a quorum: it steps down within the TTL.
  ASSERT_TRUE(WaitFor([&] { return !a.leader(); }, 20s));
  cluster.Restart(1);
  cluster.Restart(2);
  EXPECT_TRUE(WaitFor([&] { return a.leader(); }, 60s)) << cluster.AllLogs();
}

}  // namespace
}  // namespace metalpxe::etcd
