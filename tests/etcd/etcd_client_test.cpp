// EtcdClient against a real 3-member etcd cluster: KV and transactions,
// compare-and-swap between two clients, leases and keep-alive, watch with
// resume after a member is killed and with compaction, member list and
// status, failover, deadlines, quorum loss, error classification, and TLS
// with client certificates.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "core/config_paths.h"
#include "etcd/etcd_errors.h"
#include "etcd/etcd_keepalive.h"
#include "etcd/etcd_kv.h"
#include "etcd/etcd_watch.h"
#include "etcd/open_store.h"
#include "tests/etcd/etcd_test_env.h"

METALPXE_ETCD_TEST_NETNS("etcdcl");

namespace metalpxe::etcd {
namespace {

using namespace std::chrono_literals;
using testing::EtcdCluster;
using testing::EtcdClusterOptions;
using testing::WaitFor;

std::shared_ptr<EtcdClient> Client(const EtcdClientOptions& o) {
  auto c = EtcdClient::Create(o);
  if (!c.ok()) throw std::runtime_error(c.status().ToString());
  return std::move(c).value();
}

pb::PutRequest PutReq(const std::string& k, const std::string& v, std::int64_t lease = 0) {
  pb::PutRequest p;
  p.set_key(k);
  p.set_value(v);
  p.set_lease(lease);
  return p;
}

std::optional<mvccpb::KeyValue> Get(EtcdClient& c, const std::string& key) {
  auto r = c.RangeSync(GetRequest(key));
  if (!r.ok()) throw std::runtime_error(r.status().ToString());
  if (r->kvs_size() == 0) return std::nullopt;
  return r->kvs(0);
}

// One cluster for the tests that do not damage it.
class EtcdClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new EtcdCluster(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  static EtcdCluster* cluster_;
};
EtcdCluster* EtcdClientTest::cluster_ = nullptr;

TEST_F(EtcdClientTest, PutRangeDeleteAndTransactions) {
  auto c = Client(cluster_->ClientOptions());
  ASSERT_TRUE(c->PutSync(PutReq("/t/kv/a", "1")).ok());
  ASSERT_TRUE(c->PutSync(PutReq("/t/kv/b", "2")).ok());
  ASSERT_TRUE(c->PutSync(PutReq("/t/kv0", "outside the prefix")).ok());
  auto all = c->RangeSync(PrefixRequest("/t/kv/"));
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->kvs_size(), 2);
  EXPECT_EQ(all->kvs(0).key(), "/t/kv/a");
  EXPECT_EQ(all->kvs(1).value(), "2");
  const auto a = *Get(*c, "/t/kv/a");
  EXPECT_EQ(a.version(), 1);

  // Every compare target: version, create revision, mod revision, value.
  for (const auto& cmp : {VersionIs("/t/kv/a", 1), CreateRevisionIs("/t/kv/a", a.create_revision()),
                          ModRevisionIs("/t/kv/a", a.mod_revision()), ValueIs("/t/kv/a", "1")}) {
    pb::TxnRequest txn;
    *txn.add_compare() = cmp;
    auto r = c->TxnSync(txn);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->succeeded()) << cmp.DebugString();
  }
  pb::TxnRequest wrong;
  *wrong.add_compare() = ValueIs("/t/kv/a", "not it");
  *wrong.add_success() = PutOp("/t/kv/a", "never");
  *wrong.add_failure() = GetOp("/t/kv/b");
  auto r = c->TxnSync(wrong);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded());
  EXPECT_EQ(r->responses(0).response_range().kvs(0).value(), "2");
  EXPECT_EQ(Get(*c, "/t/kv/a")->value(), "1");

  pb::DeleteRangeRequest del;
  del.set_key("/t/kv/");
  del.set_range_end(PrefixEnd("/t/kv/"));
  auto d = c->DeleteRangeSync(del);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->deleted(), 2);
  EXPECT_FALSE(Get(*c, "/t/kv/a").has_value());
  EXPECT_TRUE(Get(*c, "/t/kv0").has_value());
}

TEST_F(EtcdClientTest, CompareAndSwapBetweenTwoClientsLosesNoUpdate) {
  auto a = Client(cluster_->ClientOptions());
  auto b = Client(cluster_->ClientOptionsFor({2, 1, 0}));  // other connections, other first member
  // Both read the same revision; exactly one swap wins, the loser sees the winner's value.
  ASSERT_TRUE(a->PutSync(PutReq("/t/cas/x", "0")).ok());
  const auto rev = Get(*a, "/t/cas/x")->mod_revision();
  auto ra = CompareAndSwapSync(*a, "/t/cas/x", rev, "from-a");
  auto rb = CompareAndSwapSync(*b, "/t/cas/x", rev, "from-b");
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_TRUE(ra->swapped);
  EXPECT_FALSE(rb->swapped);
  ASSERT_TRUE(rb->current.has_value());
  EXPECT_EQ(rb->current->value(), "from-a");
  // Absent key: expected revision 0 creates it once.
  EXPECT_TRUE(CompareAndSwapSync(*a, "/t/cas/new", 0, "1")->swapped);
  EXPECT_FALSE(CompareAndSwapSync(*b, "/t/cas/new", 0, "2")->swapped);

  // A counter incremented by CAS from 4 threads over both clients: every
  // increment lands exactly once.
  ASSERT_TRUE(a->PutSync(PutReq("/t/cas/counter", "0")).ok());
  constexpr int kThreads = 4, kEach = 25;
  std::atomic<int> lost_races{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      EtcdClient& c = t % 2 ? *a : *b;
      for (int i = 0; i < kEach; ++i) {
        auto cur = Get(c, "/t/cas/counter");
        for (int attempt = 0; attempt < 1000; ++attempt) {
          auto r = CompareAndSwapSync(c, "/t/cas/counter", cur->mod_revision(),
                                      std::to_string(std::stoi(cur->value()) + 1));
          ASSERT_TRUE(r.ok()) << r.status().ToString();
          if (r->swapped) break;
          ++lost_races;
          cur = r->current;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(Get(*a, "/t/cas/counter")->value(), std::to_string(kThreads * kEach));
  std::printf("CAS counter: %d increments, %d lost races retried\n", kThreads * kEach, lost_races.load());
}

TEST_F(EtcdClientTest, LeaseGrantKeepAliveExpiryAndRevoke) {
  auto c = Client(cluster_->ClientOptions());
  pb::LeaseGrantRequest grant;
  grant.set_ttl(2);
  const auto sent = EtcdKeepAlive::Clock::now();
  auto lease = c->LeaseGrantSync(grant);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  ASSERT_GE(lease->ttl(), 2);
  ASSERT_TRUE(c->PutSync(PutReq("/t/lease/key", "v", lease->id())).ok());
  {
    std::atomic<bool> lost{false};
    auto keeper = EtcdKeepAlive::Start(c, lease->id(), lease->ttl(), sent, [&](const Status&) { lost = true; });
    // Kept alive well past its TTL: wait until the keeper's proof reaches 3 TTLs after the grant.
    ASSERT_TRUE(WaitFor([&] { return keeper->valid_until() > sent + 3 * std::chrono::seconds(lease->ttl()); }, 20s));
    EXPECT_FALSE(lost.load());
    EXPECT_TRUE(Get(*c, "/t/lease/key").has_value());
    pb::LeaseTimeToLiveRequest ttl;
    ttl.set_id(lease->id());
    ttl.set_keys(true);
    auto t = c->LeaseTimeToLiveSync(ttl);
    ASSERT_TRUE(t.ok());
    EXPECT_GT(t->ttl(), 0);
    ASSERT_EQ(t->keys_size(), 1);
    EXPECT_EQ(t->keys(0), "/t/lease/key");
  }
  // No more keep-alives: etcd expires the lease and deletes the key.
  EXPECT_TRUE(WaitFor([&] { return !Get(*c, "/t/lease/key").has_value(); }, 20s));

  auto second = c->LeaseGrantSync(grant);
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(c->PutSync(PutReq("/t/lease/other", "v", second->id())).ok());
  pb::LeaseRevokeRequest revoke;
  revoke.set_id(second->id());
  ASSERT_TRUE(c->LeaseRevokeSync(revoke).ok());
  EXPECT_FALSE(Get(*c, "/t/lease/other").has_value());  // at once, not after the TTL
  auto again = c->LeaseRevokeSync(revoke);
  EXPECT_EQ(again.status().code(), ErrorCode::kNotFound) << again.status().ToString();
  pb::LeaseTimeToLiveRequest ttl;
  ttl.set_id(second->id());
  EXPECT_EQ(c->LeaseTimeToLiveSync(ttl)->ttl(), -1);
  // A put with a lease that is gone is refused.
  auto put = c->PutSync(PutReq("/t/lease/late", "v", second->id()));
  EXPECT_EQ(put.status().code(), ErrorCode::kNotFound) << put.status().ToString();
}

TEST_F(EtcdClientTest, KeepAliveReportsARevokedLease) {
  auto c = Client(cluster_->ClientOptions());
  pb::LeaseGrantRequest grant;
  grant.set_ttl(5);
  const auto sent = EtcdKeepAlive::Clock::now();
  auto lease = c->LeaseGrantSync(grant);
  ASSERT_TRUE(lease.ok());
  std::mutex mu;
  std::optional<Status> lost;
  auto keeper = EtcdKeepAlive::Start(c, lease->id(), lease->ttl(), sent, [&](const Status& why) {
    std::lock_guard lock(mu);
    lost = why;
  });
  pb::LeaseRevokeRequest revoke;
  revoke.set_id(lease->id());
  ASSERT_TRUE(c->LeaseRevokeSync(revoke).ok());
  // Told at the next keep-alive (a third of the TTL), not when the TTL runs out.
  ASSERT_TRUE(WaitFor([&] { std::lock_guard lock(mu); return lost.has_value(); }, 10s));
  std::lock_guard lock(mu);
  EXPECT_EQ(lost->code(), ErrorCode::kNotFound) << lost->ToString();
}

TEST_F(EtcdClientTest, WatchDeliversChangesInOrderWithPreviousValues) {
  auto c = Client(cluster_->ClientOptions());
  std::mutex mu;
  std::vector<mvccpb::Event> seen;
  std::atomic<bool> created{false};
  WatchOptions wo;
  wo.key = "/t/watch1/";
  wo.range_end = PrefixEnd(wo.key);
  wo.prev_kv = true;
  WatchHandler h;
  h.on_created = [&] { created = true; };
  h.on_events = [&](const std::vector<mvccpb::Event>& ev, std::int64_t) {
    std::lock_guard lock(mu);
    seen.insert(seen.end(), ev.begin(), ev.end());
  };
  auto watch = EtcdWatch::Start(c, wo, h);
  ASSERT_TRUE(WaitFor([&] { return created.load(); }, 10s));
  ASSERT_TRUE(c->PutSync(PutReq("/t/watch1/a", "1")).ok());
  ASSERT_TRUE(c->PutSync(PutReq("/t/watch1/a", "2")).ok());
  ASSERT_TRUE(c->PutSync(PutReq("/t/watch-outside", "x")).ok());
  pb::DeleteRangeRequest del;
  del.set_key("/t/watch1/a");
  ASSERT_TRUE(c->DeleteRangeSync(del).ok());
  ASSERT_TRUE(WaitFor([&] { std::lock_guard lock(mu); return seen.size() >= 3; }, 10s));
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].kv().value(), "1");
  EXPECT_EQ(seen[1].kv().value(), "2");
  EXPECT_EQ(seen[1].prev_kv().value(), "1");
  EXPECT_EQ(seen[2].type(), mvccpb::Event::DELETE);
  EXPECT_EQ(seen[2].prev_kv().value(), "2");
}

TEST_F(EtcdClientTest, WatchOfCompactedRevisionsSaysSo) {
  auto c = Client(cluster_->ClientOptions());
  ASSERT_TRUE(c->PutSync(PutReq("/t/compact/a", "1")).ok());
  auto put = c->PutSync(PutReq("/t/compact/a", "2"));
  ASSERT_TRUE(put.ok());
  pb::CompactionRequest compact;
  compact.set_revision(put->header().revision());
  ASSERT_TRUE(c->CompactSync(compact).ok());
  std::atomic<std::int64_t> compacted{0};
  WatchOptions wo;
  wo.key = "/t/compact/a";
  wo.start_revision = 1;
  WatchHandler h;
  h.on_compacted = [&](std::int64_t rev) { compacted = rev; };
  auto watch = EtcdWatch::Start(c, wo, h);
  ASSERT_TRUE(WaitFor([&] { return compacted.load() != 0; }, 10s));
  EXPECT_EQ(compacted.load(), put->header().revision());
  // A read at a compacted revision is refused with etcd's reason.
  auto old = GetRequest("/t/compact/a");
  old.set_revision(1);
  auto r = c->RangeSync(old);
  EXPECT_EQ(r.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("compacted"), std::string::npos) << r.status().ToString();
}

TEST_F(EtcdClientTest, MemberListAndStatus) {
  auto c = Client(cluster_->ClientOptions());
  auto list = c->MemberListSync(pb::MemberListRequest());
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->members_size(), 3);
  std::set<std::string> urls;
  for (const auto& m : list->members()) urls.insert(m.clienturls(0));
  for (const auto& ep : cluster_->endpoints()) EXPECT_EQ(urls.count(ep.url), 1u) << ep.url;
  std::set<std::uint64_t> leaders;
  for (std::size_t i = 0; i < 3; ++i) {
    auto st = c->MemberStatusSync(i);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    EXPECT_EQ(st->version().substr(0, 4), "3.4.");
    leaders.insert(st->leader());
  }
  EXPECT_EQ(leaders.size(), 1u);  // all three agree on one leader
}

TEST_F(EtcdClientTest, ErrorsSayWhatEtcdRefused) {
  auto c = Client(cluster_->ClientOptions());
  pb::TxnRequest big;
  for (int i = 0; i < 200; ++i) *big.add_success() = PutOp("/t/err/" + std::to_string(i), "v");
  auto r = c->TxnSync(big);
  EXPECT_EQ(r.status().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("too many operations"), std::string::npos) << r.status().ToString();
  auto huge = c->PutSync(PutReq("/t/err/huge", std::string(2 * 1024 * 1024, 'x')));
  EXPECT_EQ(huge.status().code(), ErrorCode::kResourceExhausted) << huge.status().ToString();
  pb::TxnRequest dup;
  *dup.add_success() = PutOp("/t/err/d", "1");
  *dup.add_success() = PutOp("/t/err/d", "2");
  auto d = c->TxnSync(dup);
  EXPECT_EQ(d.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(d.status().message().find("duplicate key"), std::string::npos) << d.status().ToString();
}

// A member that is not the raft leader (killing the leader also costs an
// election, during which plain writes may fail "leader changed": that case
// is the store's, whose writes are repeat-safe).
int AFollower(EtcdCluster& cluster) {
  auto c = Client(cluster.ClientOptions());
  auto st = c->MemberStatusSync(0);
  if (!st.ok()) throw std::runtime_error(st.status().ToString());
  for (int i = 0; i < cluster.size(); ++i) {
    auto s = c->MemberStatusSync(static_cast<std::size_t>(i));
    if (s.ok() && s->header().member_id() != st->leader()) return i;
  }
  throw std::runtime_error("no follower");
}

// All members, `first` first: the client tries it before the others.
std::vector<int> MembersWithFirst(const EtcdCluster& cluster, int first) {
  std::vector<int> order = {first};
  for (int i = 0; i < cluster.size(); ++i)
    if (i != first) order.push_back(i);
  return order;
}

TEST_F(EtcdClientTest, AStoppedMemberCostsADeadlineNotAHang) {
  // A member that takes the connection but never answers (SIGSTOP): a
  // client that knows only this member fails at its deadline. A follower:
  // stopping the leader would also cost an election, during
  // which no member can answer a linearizable read.
  const int stopped = AFollower(*cluster_);
  auto options = cluster_->ClientOptionsFor({stopped});
  options.call_timeout = 1500ms;
  auto only_stopped = Client(options);
  ASSERT_TRUE(only_stopped->RangeSync(GetRequest("/t/x")).ok());  // connected
  cluster_->Signal(stopped, SIGSTOP);
  const auto start = std::chrono::steady_clock::now();
  auto r = only_stopped->RangeSync(GetRequest("/t/x"));
  const auto took = std::chrono::steady_clock::now() - start;
  // With all three endpoints, the stopped one first, the call moves on
  // after attempt_timeout instead.
  auto all = cluster_->ClientOptionsFor(MembersWithFirst(*cluster_, stopped));
  all.attempt_timeout = 500ms;
  auto c = Client(all);
  auto ok = c->RangeSync(GetRequest("/t/x"));
  cluster_->Signal(stopped, SIGCONT);
  EXPECT_EQ(r.status().code(), ErrorCode::kDeadlineExceeded) << r.status().ToString();
  EXPECT_LT(took, 10s);
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_TRUE(cluster_->WaitWritable(30s));
}

// Tests that kill members get a cluster of their own.
TEST(EtcdClientFailover, OneMemberDownCallsGoToTheOthers) {
  EtcdCluster cluster;
  const int down = AFollower(cluster);
  auto c = Client(cluster.ClientOptionsFor(MembersWithFirst(cluster, down)));  // the member about to die comes first
  ASSERT_TRUE(c->PutSync(PutReq("/t/f/a", "1")).ok());
  cluster.Kill(down);
  for (int i = 0; i < 20; ++i) {
    auto r = c->PutSync(PutReq("/t/f/k" + std::to_string(i), "v"));
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().ToString();
  }
  EXPECT_EQ(Get(*c, "/t/f/a")->value(), "1");
  EXPECT_TRUE(c->Health().ok);
  // A client that knows only the dead member says it cannot reach etcd, at once.
  auto only = Client(cluster.ClientOptionsFor({down}));
  const auto start = std::chrono::steady_clock::now();
  auto r = only->PutSync(PutReq("/t/f/z", "v"));
  EXPECT_EQ(r.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(r.status().message().find("no endpoint reachable"), std::string::npos) << r.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  // Back again: the client reconnects by itself.
  cluster.Restart(down);
  EXPECT_TRUE(WaitFor([&] { return only->PutSync(PutReq("/t/f/z", "v")).ok(); }, 60s)) << cluster.Logs(down);
}

// Creates `key` once, whatever the failover in between: a plain put may fail
// with "leader changed" after it was applied, so a repeat could write twice;
// a create-if-absent repeated is harmless (bounded: 30 s).
bool PutOnce(EtcdClient& c, const std::string& key, const std::string& value) {
  return WaitFor(
      [&] {
        auto r = CompareAndSwapSync(c, key, 0, value);
        return r.ok() && (r->swapped || (r->current && r->current->value() == value));
      },
      30s);
}

TEST(EtcdClientFailover, WatchResumesOnAnotherMemberWithoutLosingOrRepeating) {
  EtcdCluster cluster;
  auto watcher = Client(cluster.ClientOptions());  // a fresh client starts on member 0
  auto writer = Client(cluster.ClientOptionsFor({1, 2}));
  std::mutex mu;
  std::vector<std::string> values;
  std::atomic<int> created{0};
  WatchOptions wo;
  wo.key = "/t/resume/";
  wo.range_end = PrefixEnd(wo.key);
  WatchHandler h;
  h.on_created = [&] { ++created; };
  h.on_events = [&](const std::vector<mvccpb::Event>& ev, std::int64_t) {
    std::lock_guard lock(mu);
    for (const auto& e : ev) values.push_back(e.kv().value());
  };
  auto watch = EtcdWatch::Start(watcher, wo, h);
  ASSERT_TRUE(WaitFor([&] { return created.load() == 1; }, 10s));
  auto key = [](int i) { return "/t/resume/k" + std::to_string(1000 + i); };
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(PutOnce(*writer, key(i), std::to_string(i)));
  ASSERT_TRUE(WaitFor([&] { std::lock_guard lock(mu); return values.size() == 50; }, 10s));
  cluster.Kill(0);
  // Written while the watch has no stream (and perhaps while the members
  // elect a new leader): delivered after the resume.
  for (int i = 50; i < 100; ++i) ASSERT_TRUE(PutOnce(*writer, key(i), std::to_string(i)));
  ASSERT_TRUE(WaitFor([&] { std::lock_guard lock(mu); return values.size() >= 100; }, 20s));
  EXPECT_GE(watch->resumes(), 1);
  std::lock_guard lock(mu);
  ASSERT_EQ(values.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(values[i], std::to_string(i));
}

TEST(EtcdClientFailover, QuorumLostFailsFastWithItsOwnReasonAndRecovers) {
  EtcdCluster cluster;
  auto options = cluster.ClientOptions();
  options.call_timeout = 3s;
  auto c = Client(options);
  ASSERT_TRUE(c->PutSync(PutReq("/t/q/a", "1")).ok());
  cluster.Kill(1);
  cluster.Kill(2);
  // Every call ends within its deadline; once the survivor notices it has
  // no leader (an election timeout), the reason is "no quorum".
  Status last;
  int calls = 0;
  const bool said_no_quorum = WaitFor(
      [&] {
        const auto start = std::chrono::steady_clock::now();
        auto r = c->PutSync(PutReq("/t/q/b", "2"));
        EXPECT_LT(std::chrono::steady_clock::now() - start, 3s + 2s);
        EXPECT_FALSE(r.ok());
        ++calls;
        last = r.status();
        return IsNoQuorum(last);
      },
      30s);
  EXPECT_TRUE(said_no_quorum) << last.ToString();
  EXPECT_TRUE(c->Health().no_quorum);
  std::printf("quorum lost: %d failed write(s) until the reason was: %s\n", calls, last.message().c_str());
  cluster.Restart(1);
  EXPECT_TRUE(WaitFor([&] { return c->PutSync(PutReq("/t/q/b", "2")).ok(); }, 60s)) << cluster.AllLogs();
  EXPECT_TRUE(c->Health().ok);
  EXPECT_EQ(Get(*c, "/t/q/a")->value(), "1");
}

TEST(EtcdClientTls, ClientCertificateOverHttps) {
  EtcdClusterOptions o;
  o.tls = true;
  EtcdCluster cluster(o);
  auto c = Client(cluster.ClientOptions());
  ASSERT_TRUE(c->PutSync(PutReq("/t/tls/a", "1")).ok());
  EXPECT_EQ(Get(*c, "/t/tls/a")->value(), "1");

  // Wrong CA: the member's certificate is not trusted.
  auto wrong = cluster.ClientOptions();
  std::string other, error;
  ASSERT_TRUE(ReadWholeFile(cluster.other_ca_file(), &other, &error)) << error;
  wrong.ca_pem = other;
  auto w = Client(wrong)->PutSync(PutReq("/t/tls/b", "1"));
  EXPECT_EQ(w.status().code(), ErrorCode::kUnavailable) << w.status().ToString();
  // No client certificate: etcd (--client-cert-auth) refuses the handshake.
  auto anonymous = cluster.ClientOptions();
  anonymous.cert_pem.clear();
  anonymous.key_pem.clear();
  auto a = Client(anonymous)->PutSync(PutReq("/t/tls/c", "1"));
  EXPECT_FALSE(a.ok());
  std::printf("wrong CA: %s\nno client certificate: %s\n", w.status().message().c_str(),
              a.status().message().c_str());
}

TEST(EtcdClientTls, TheConfiguredStoreWorksOverTls) {
  EtcdClusterOptions o;
  o.tls = true;
  EtcdCluster cluster(o);
  // From a `store:` section as the loader leaves it: URLs and PEM file paths.
  AppConfig config;
  config.store = cluster.StoreConfigFor("/tls-store/");
  auto opened = OpenConfiguredStore(config);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_NE(opened->description.find("https://127.0.0.1:"), std::string::npos) << opened->description;
  LeaseRecord l{*Ipv4Address::Parse("10.66.0.9"), *MacAddress::Parse("52:54:00:00:00:09"), "", 1'900'000'000, "tls",
                LeaseRecord::Kind::kActive};
  std::promise<Status> durable;
  opened->store->PutLease(l, [&](const Status& st) { durable.set_value(st); });
  ASSERT_TRUE(durable.get_future().get().ok());
  auto leases = opened->store->LoadLeases();
  ASSERT_TRUE(leases.ok()) << leases.status().ToString();
  ASSERT_EQ(leases->size(), 1u);
  EXPECT_EQ((*leases)[0].hostname, "tls");
  // A key file that is gone by start-up time: a clear error, not a crash.
  config.store.key_file = cluster.dir() + "/no-such.key";
  auto missing = OpenConfiguredStore(config);
  EXPECT_EQ(missing.status().code(), ErrorCode::kFailedPrecondition) << missing.status().ToString();
  EXPECT_NE(missing.status().message().find("no-such.key"), std::string::npos);
}

}  // namespace
}  // namespace metalpxe::etcd
