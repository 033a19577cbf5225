#include <gtest/gtest.h>

#include "dhcp/lease_table.h"
#include "tests/dhcp/test_config.h"

namespace metalpxe::dhcp {
namespace {

using namespace testing;

LeaseTable SmallTable() {
  return LeaseTable({LeasePool{*Ipv4Cidr::Parse("10.0.0.0/24"), *Ipv4Range::Parse("10.0.0.10-10.0.0.12")}});
}

TEST(dhcp_lease, OffersDistinctAddressesAndKeepsThemPerMac) {
  auto t = SmallTable();
  auto a = t.Offer(0, Mac("00:00:00:00:00:01"), std::nullopt, 1000, 60);
  auto b = t.Offer(0, Mac("00:00:00:00:00:02"), std::nullopt, 1000, 60);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(t.Offer(0, Mac("00:00:00:00:00:01"), std::nullopt, 1001, 60), a);
}

TEST(dhcp_lease, HonoursRequestedAddressWhenFree) {
  auto t = SmallTable();
  EXPECT_EQ(t.Offer(0, Mac("00:00:00:00:00:01"), Ip("10.0.0.12"), 1000, 60), Ip("10.0.0.12"));
  // Taken by someone else: a different one.
  EXPECT_NE(t.Offer(0, Mac("00:00:00:00:00:02"), Ip("10.0.0.12"), 1000, 60), Ip("10.0.0.12"));
  // Outside the range: ignored.
  EXPECT_NE(t.Offer(0, Mac("00:00:00:00:00:03"), Ip("10.0.0.200"), 1000, 60), Ip("10.0.0.200"));
}

TEST(dhcp_lease, ExhaustionThenExpiredOffersAreReused) {
  auto t = SmallTable();
  for (int i = 1; i <= 3; ++i) {
    MacAddress m{};
    m.bytes[5] = static_cast<std::uint8_t>(i);
    ASSERT_TRUE(t.Offer(0, m, std::nullopt, 1000, 60));
  }
  EXPECT_FALSE(t.Offer(0, Mac("00:00:00:00:00:09"), std::nullopt, 1000, 60));
  EXPECT_TRUE(t.Offer(0, Mac("00:00:00:00:00:09"), std::nullopt, 1061, 60));  // holds ran out
}

TEST(dhcp_lease, ActiveLeasesAreNotReusedUntilExpired) {
  auto t = SmallTable();
  const auto a = Mac("00:00:00:00:00:01");
  auto ip = t.Offer(0, a, std::nullopt, 1000, 60);
  ASSERT_TRUE(t.MayLease(0, a, *ip, 1000));
  t.Commit(a, *ip, "01aa", "host", 5000);
  EXPECT_FALSE(t.MayLease(0, Mac("00:00:00:00:00:02"), *ip, 4999));
  EXPECT_TRUE(t.MayLease(0, Mac("00:00:00:00:00:02"), *ip, 5000));
  EXPECT_EQ(t.FindByMac(a)->hostname, "host");
}

TEST(dhcp_lease, ReleasedAddressGoesBackToItsOwnerFirst) {
  auto t = SmallTable();
  const auto a = Mac("00:00:00:00:00:01");
  auto ip = *t.Offer(0, a, std::nullopt, 1000, 60);
  t.Commit(a, ip, "", "", 5000);
  EXPECT_FALSE(t.Release(Mac("00:00:00:00:00:02"), ip, 1001)) << "only the holder releases";
  EXPECT_TRUE(t.Release(a, ip, 1001));
  EXPECT_EQ(t.FindByIp(ip)->state, LeaseEntry::State::kReleased);
  EXPECT_EQ(t.Offer(0, a, std::nullopt, 1002, 60), ip);
}

TEST(dhcp_lease, DeclinedAddressIsQuarantined) {
  auto t = SmallTable();
  const auto a = Mac("00:00:00:00:00:01");
  auto ip = *t.Offer(0, a, std::nullopt, 1000, 60);
  t.Commit(a, ip, "", "", 5000);
  EXPECT_TRUE(t.Decline(a, ip, 1600));
  EXPECT_EQ(t.FindByMac(a), nullptr);
  EXPECT_FALSE(t.MayLease(0, a, ip, 1500));
  auto next = t.Offer(0, a, std::nullopt, 1001, 60);
  ASSERT_TRUE(next);
  EXPECT_NE(*next, ip);
  EXPECT_TRUE(t.MayLease(0, Mac("00:00:00:00:00:05"), ip, 1600)) << "quarantine over";
}

TEST(dhcp_lease, ReservationsWinAndAreNeverGivenToOthers) {
  LeaseTable t({LeasePool{*Ipv4Cidr::Parse("10.0.0.0/24"), *Ipv4Range::Parse("10.0.0.10-10.0.0.11")}});
  const auto owner = Mac("00:00:00:00:00:aa");
  t.SetReservations({{owner, Ip("10.0.0.10")}, {Mac("00:00:00:00:00:bb"), Ip("10.0.0.50")}});
  EXPECT_EQ(t.Offer(0, Mac("00:00:00:00:00:01"), Ip("10.0.0.10"), 1000, 60), Ip("10.0.0.11"));
  EXPECT_FALSE(t.Offer(0, Mac("00:00:00:00:00:02"), std::nullopt, 1000, 60)) << ".10 is reserved";
  EXPECT_EQ(t.Offer(0, owner, std::nullopt, 1000, 60), Ip("10.0.0.10"));
  EXPECT_EQ(t.Offer(0, Mac("00:00:00:00:00:bb"), std::nullopt, 1000, 60), Ip("10.0.0.50")) << "outside the pool";
  EXPECT_FALSE(t.MayLease(0, owner, Ip("10.0.0.11"), 1000)) << "a reserved MAC gets only its address";
}

TEST(dhcp_lease, LoadRestoresBindings) {
  auto t = SmallTable();
  LeaseRecord r;
  r.ip = Ip("10.0.0.11");
  r.mac = Mac("00:00:00:00:00:07");
  r.expires_unix = 9000;
  LeaseRecord stale = r;
  stale.ip = Ip("10.0.0.12");
  stale.expires_unix = 100;
  LeaseRecord foreign = r;
  foreign.ip = Ip("192.168.0.5");
  foreign.mac = Mac("00:00:00:00:00:08");
  t.Load({stale, r, foreign});
  EXPECT_EQ(t.FindByMac(r.mac)->ip, r.ip) << "the later-expiring lease wins";
  EXPECT_EQ(t.FindByIp(foreign.ip), nullptr);
  EXPECT_EQ(t.Offer(0, r.mac, std::nullopt, 2000, 60), r.ip);
  EXPECT_FALSE(t.MayLease(0, Mac("00:00:00:00:00:01"), r.ip, 2000));
}

TEST(dhcp_lease, CommitMovingAMacReportsItsOldAddress) {
  auto t = SmallTable();
  const auto a = Mac("00:00:00:00:00:01");
  t.Commit(a, Ip("10.0.0.10"), "", "", 5000);
  auto prev = t.Commit(a, Ip("10.0.0.11"), "", "", 5000);
  EXPECT_EQ(prev, Ip("10.0.0.10"));
  EXPECT_EQ(t.FindByIp(Ip("10.0.0.10"))->state, LeaseEntry::State::kReleased);
  EXPECT_EQ(t.FindByMac(a)->ip, Ip("10.0.0.11"));
}

}  // namespace
}  // namespace metalpxe::dhcp
