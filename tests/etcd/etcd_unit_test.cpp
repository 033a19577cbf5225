// The pure parts of etcd/: how failed calls are classified, the record
// codecs and key layout, etcd URLs and prefix ranges. No cluster needed.
#include <grpcpp/support/status_code_enum.h>
#include <gtest/gtest.h>

#include "etcd/etcd_client.h"
#include "etcd/etcd_election.h"
#include "etcd/etcd_errors.h"
#include "etcd/etcd_store_codec.h"

namespace metalpxe::etcd {
namespace {

TEST(EtcdErrors, ClassifiesEtcdAndTransportFailures) {
  using C = grpc::StatusCode;
  struct Case {
    C code;
    const char* message;
    EtcdFailure want;
  } const cases[] = {
      {C::UNAVAILABLE, "etcdserver: no leader", EtcdFailure::kNoLeader},
      {C::UNAVAILABLE, "etcdserver: request timed out", EtcdFailure::kTimedOut},
      {C::UNAVAILABLE, "etcdserver: leader changed", EtcdFailure::kTimedOut},
      {C::UNAVAILABLE, "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:2379: "
                       "Failed to connect to remote host: Connection refused",
       EtcdFailure::kUnreachable},
      {C::UNAVAILABLE, "Socket closed", EtcdFailure::kConnectionLost},
      {C::DEADLINE_EXCEEDED, "Deadline Exceeded", EtcdFailure::kTimedOut},
      {C::OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted", EtcdFailure::kCompacted},
      {C::INVALID_ARGUMENT, "etcdserver: too many operations in txn request", EtcdFailure::kTooLarge},
      {C::INVALID_ARGUMENT, "etcdserver: request is too large", EtcdFailure::kTooLarge},
      {C::NOT_FOUND, "etcdserver: requested lease not found", EtcdFailure::kLeaseNotFound},
      {C::INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request", EtcdFailure::kRejected},
      {C::PERMISSION_DENIED, "etcdserver: permission denied", EtcdFailure::kRejected},
  };
  for (const auto& c : cases)
    EXPECT_EQ(ClassifyGrpcError(static_cast<int>(c.code), c.message).failure, c.want) << c.message;
}

TEST(EtcdErrors, WritesMoveOnOnlyWhenSurelyNotApplied) {
  EXPECT_TRUE(TryNextEndpoint(EtcdFailure::kUnreachable, false));
  EXPECT_TRUE(TryNextEndpoint(EtcdFailure::kNoLeader, false));
  EXPECT_FALSE(TryNextEndpoint(EtcdFailure::kTimedOut, false));
  EXPECT_FALSE(TryNextEndpoint(EtcdFailure::kConnectionLost, false));
  EXPECT_TRUE(TryNextEndpoint(EtcdFailure::kTimedOut, true));
  EXPECT_TRUE(TryNextEndpoint(EtcdFailure::kConnectionLost, true));
  EXPECT_FALSE(TryNextEndpoint(EtcdFailure::kRejected, true));
  EXPECT_FALSE(TryNextEndpoint(EtcdFailure::kTooLarge, true));
}

TEST(EtcdErrors, NoQuorumHasItsOwnMessage) {
  const ClassifiedError no_leader{EtcdFailure::kNoLeader, "etcdserver: no leader", 14};
  const ClassifiedError refused{EtcdFailure::kUnreachable, "Connection refused", 14};
  const ClassifiedError silent{EtcdFailure::kTimedOut, "Deadline Exceeded", 4};
  auto st = FinalStatus("Put", {{"http://a", refused}, {"http://b", no_leader}}, 3);
  EXPECT_TRUE(IsNoQuorum(st)) << st.ToString();
  EXPECT_NE(st.message().find("http://b: etcdserver: no leader"), std::string::npos);
  // Two of three unreachable and the third silent: no majority can answer.
  EXPECT_TRUE(IsNoQuorum(FinalStatus("Put", {{"a", refused}, {"b", refused}, {"c", silent}}, 3)));
  // All unreachable: that is "unreachable", not a quorum problem of a cluster we never saw.
  auto down = FinalStatus("Put", {{"a", refused}, {"b", refused}, {"c", refused}}, 3);
  EXPECT_FALSE(IsNoQuorum(down));
  EXPECT_EQ(down.code(), ErrorCode::kUnavailable);
  EXPECT_NE(down.message().find("no endpoint reachable"), std::string::npos);
  auto slow = FinalStatus("Put", {{"a", silent}}, 3);
  EXPECT_EQ(slow.code(), ErrorCode::kDeadlineExceeded);
  EXPECT_FALSE(IsNoQuorum(Status(ErrorCode::kUnavailable, "something else")));
}

TEST(EtcdKeys, PrefixEndAndLayout) {
  EXPECT_EQ(PrefixEnd("/a/"), "/a0");
  EXPECT_EQ(PrefixEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixEnd(std::string("\xff\xff", 2)), std::string(1, '\0'));
  StoreKeys k("/metalpxe/");
  EXPECT_EQ(k.Lease(*Ipv4Address::Parse("10.66.0.100")), "/metalpxe/leases/10.66.0.100");
  EXPECT_EQ(k.Machine(*MacAddress::Parse("52:54:00:AA:BB:CC")), "/metalpxe/machines/52:54:00:aa:bb:cc");
  EXPECT_EQ(k.Event(42), "/metalpxe/events/00000000000000000042");
  EXPECT_LT(k.Event(9), k.Event(10));  // key order is id order
  EXPECT_EQ(k.EventId(k.Event(1234567)), 1234567);
  EXPECT_FALSE(k.EventId("/metalpxe/events/12"));
  EXPECT_FALSE(k.EventId("/metalpxe/events/0000000000000000004x"));
  EXPECT_FALSE(k.EventId("/other/events/00000000000000000042"));
  EXPECT_EQ(DhcpSubnetElectionKey("/metalpxe/", "10.66.0.0/24"), "/metalpxe/leaders/dhcp/10.66.0.0_24");
}

TEST(EtcdCodec, RecordsRoundTrip) {
  LeaseRecord l{*Ipv4Address::Parse("10.66.0.7"), *MacAddress::Parse("52:54:00:00:00:07"), "01ab",
                1'900'000'000, std::string("host\xff\x00", 6), LeaseRecord::Kind::kDeclined};
  auto l2 = DecodeLease(EncodeLease(l));
  ASSERT_TRUE(l2.ok()) << l2.status().ToString();
  EXPECT_EQ(l2->ip, l.ip);
  EXPECT_EQ(l2->mac, l.mac);
  EXPECT_EQ(l2->client_id, l.client_id);
  EXPECT_EQ(l2->expires_unix, l.expires_unix);
  EXPECT_EQ(l2->hostname, l.hostname);
  EXPECT_EQ(l2->kind, l.kind);

  MachineRecord m;
  m.mac = *MacAddress::Parse("52:54:00:00:00:08");
  m.name = "cp-1";
  m.state = MachineState::kInstalling;
  m.reason = "ünïcode ok";
  m.last_ip = *Ipv4Address::Parse("10.66.0.8");
  m.first_seen_unix = -5;
  auto m2 = DecodeMachine(EncodeMachine(m));
  ASSERT_TRUE(m2.ok()) << m2.status().ToString();
  EXPECT_EQ(m2->name, "cp-1");
  EXPECT_EQ(m2->state, MachineState::kInstalling);
  EXPECT_EQ(m2->reason, m.reason);
  EXPECT_EQ(m2->last_ip, m.last_ip);
  EXPECT_EQ(m2->first_seen_unix, -5);

  TokenRecord t{std::string(64, 'c'), *MacAddress::Parse("52:54:00:00:00:09"), std::nullopt, 1, 2, 3, 1};
  auto t2 = DecodeToken(EncodeToken(t));
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(t2->token_hash, t.token_hash);
  EXPECT_FALSE(t2->bound_ip.has_value());
  EXPECT_EQ(t2->max_fetches, 3);

  EventRecord e{0, 123, "cp-1", "state", "installing \"quoted\"\n"};
  auto e2 = DecodeEvent(9, EncodeEvent(e));
  ASSERT_TRUE(e2.ok());
  EXPECT_EQ(e2->id, 9);
  EXPECT_EQ(e2->message, e.message);
  EXPECT_EQ(*DecodeCounter(EncodeCounter(77)), 77);
}

TEST(EtcdCodec, ClusterRecordRoundTripsAndItsKey) {
  ClusterRecord c;
  c.name = "prod";
  c.bootstrap = ClusterBootstrapState::kBootstrapping;
  c.node = "cp-1";
  c.reason = "cp-1:50000: Bootstrap: time is not in sync yet";
  c.attempts = 2;
  c.changed_unix = 1'900'000'000;
  auto back = DecodeCluster(EncodeCluster(c));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->name, c.name);
  EXPECT_EQ(back->bootstrap, c.bootstrap);
  EXPECT_EQ(back->node, c.node);
  EXPECT_EQ(back->reason, c.reason);
  EXPECT_EQ(back->attempts, c.attempts);
  EXPECT_EQ(back->changed_unix, c.changed_unix);
  EXPECT_EQ(StoreKeys("/metalpxe/").Cluster("prod"), "/metalpxe/clusters/prod");
}

TEST(EtcdCodec, RefusesWhatIsNotARecord) {
  for (const char* bad : {"", "{", "[]", "null", "{}", R"({"v":2,"ip":"10.0.0.1"})",
                          R"({"v":1,"ip":"10.0.0.1","mac":"52:54:00:00:00:01","kind":"active","expires":"soon"})",
                          R"({"v":1,"ip":"10.0.0.999","mac":"52:54:00:00:00:01","kind":"active"})",
                          R"({"v":1,"ip":"10.0.0.1","mac":"52:54:00:00:00:01","kind":"stolen"})",
                          R"({"v":1,"ip":"10.0.0.1","mac":"52:54:00:00:00:01","kind":"active","hostnameHex":"4"})",
                          R"({"v":1,"ip":"10.0.0.1","mac":"52:54:00:00:00:01","kind":"active","hostname":5})"}) {
    auto r = DecodeLease(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), ErrorCode::kDataLoss);
    }
  }
  EXPECT_FALSE(DecodeMachine(R"({"v":1,"mac":"52:54:00:00:00:01","state":"flying","lastIp":"0.0.0.0"})").ok());
  EXPECT_FALSE(DecodeToken(R"({"v":1,"tokenHash":"aa","mac":"52:54:00:00:00:01","fetches":-1})").ok());
  EXPECT_FALSE(DecodeCluster(R"({"v":1,"name":"prod","bootstrap":"maybe"})").ok());
  EXPECT_FALSE(DecodeCluster(R"({"v":1,"bootstrap":"pending"})").ok());
  EXPECT_FALSE(DecodeCluster(R"({"v":1,"name":"prod","bootstrap":"pending","attempts":-1})").ok());
  for (const char* bad : {"", "-1", "12a", " 1", "99999999999999999999"}) EXPECT_FALSE(DecodeCounter(bad).ok()) << bad;
}

}  // namespace
}  // namespace metalpxe::etcd
