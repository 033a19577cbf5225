// The per-client / whole-server connection accounting the TCP receivers use.
#include "core/connection_limiter.h"

#include <gtest/gtest.h>

namespace metalpxe {
namespace {

using Verdict = ConnectionLimiter::Verdict;

TEST(ConnectionLimiter, OneClientGetsOnlyItsShareAndOthersKeepTheRest) {
  ConnectionLimiter limiter({/*total=*/5, /*per_client=*/2});
  const auto a = Ipv4Address::FromOctets(10, 0, 0, 1), b = Ipv4Address::FromOctets(10, 0, 0, 2),
             c = Ipv4Address::FromOctets(10, 0, 0, 3);
  EXPECT_EQ(limiter.Admit(a), Verdict::kAdmit);
  EXPECT_EQ(limiter.Admit(a), Verdict::kAdmit);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(limiter.Admit(a), Verdict::kClientFull);
  EXPECT_EQ(limiter.Of(a), 2u);
  EXPECT_EQ(limiter.Admit(b), Verdict::kAdmit);
  EXPECT_EQ(limiter.Admit(b), Verdict::kAdmit);
  EXPECT_EQ(limiter.Admit(c), Verdict::kAdmit);
  EXPECT_EQ(limiter.Admit(c), Verdict::kServerFull);
  EXPECT_EQ(limiter.total(), 5u);
  limiter.Release(a);
  EXPECT_EQ(limiter.Admit(c), Verdict::kAdmit);
  limiter.Release(Ipv4Address::FromOctets(10, 0, 0, 9));  // never admitted: no effect
  EXPECT_EQ(limiter.total(), 5u);
  for (auto ip : {a, b, b, c, c}) limiter.Release(ip);
  EXPECT_EQ(limiter.total(), 0u);
  EXPECT_EQ(limiter.clients(), 0u);
}

// IPv6 peers are keyed by their full address: machines of one management
// /64 each get their own share; the IPv4-mapped form of an IPv4 peer (a
// dual-stack socket's view) is that IPv4 peer.
TEST(ConnectionLimiter, Ipv6PeersAreKeyedByFullAddressAndMappedIsIpv4) {
  ConnectionLimiter limiter({/*total=*/10, /*per_client=*/2});
  const IpAddress m1 = *Ipv6Address::Parse("fd00:66::100"), m2 = *Ipv6Address::Parse("fd00:66::101");
  EXPECT_EQ(limiter.Admit(m1), Verdict::kAdmit);
  EXPECT_EQ(limiter.Admit(m1), Verdict::kAdmit);
  EXPECT_EQ(limiter.Admit(m1), Verdict::kClientFull);
  EXPECT_EQ(limiter.Admit(m2), Verdict::kAdmit);  // same /64, its own share
  EXPECT_EQ(limiter.Of(m2), 1u);

  const auto v4 = Ipv4Address::FromOctets(10, 66, 0, 5);
  const IpAddress mapped = *Ipv6Address::Parse("::ffff:10.66.0.5");
  EXPECT_EQ(mapped.v4(), v4);
  EXPECT_FALSE(mapped.v6());
  EXPECT_EQ(mapped.ToString(), "10.66.0.5");
  EXPECT_EQ(limiter.Admit(v4), Verdict::kAdmit);
  EXPECT_EQ(limiter.Admit(mapped), Verdict::kAdmit);
  EXPECT_EQ(limiter.Admit(v4), Verdict::kClientFull);
  EXPECT_EQ(limiter.Of(mapped), 2u);
  EXPECT_EQ(m1.ToString(), "fd00:66::100");
  EXPECT_FALSE(m1.v4());
  EXPECT_EQ(limiter.clients(), 3u);
}

}  // namespace
}  // namespace metalpxe
