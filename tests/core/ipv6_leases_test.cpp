// The DHCPv6 leases the provisioning core asks (core/ipv6_leases.h), and the
// two decisions over them: what an IPv6 installer's token is bound to, and
// who may redeem it.
#include "core/ipv6_leases.h"

#include <gtest/gtest.h>

namespace metalpxe {
namespace {

const MacAddress kA = *MacAddress::Parse("52:54:00:00:00:0a");
const MacAddress kB = *MacAddress::Parse("52:54:00:00:00:0b");
const Ipv6Address kX = *Ipv6Address::Parse("fd00:66::100");
const Ipv6Address kY = *Ipv6Address::Parse("fd00:66::101");

TEST(Ipv6Leases, BothWaysUntilExpiryAndOneAddressPerMac) {
  Ipv6Leases leases;
  leases.Bind(kA, kX, 100);
  EXPECT_EQ(leases.AddressOf(kA, 50), kX);
  EXPECT_EQ(leases.MacFor(kX, 50), kA);
  EXPECT_FALSE(leases.AddressOf(kA, 100));  // expired
  EXPECT_FALSE(leases.MacFor(kX, 100));
  leases.Bind(kA, kY, 200);  // renewed elsewhere: the old address is no longer A's
  EXPECT_EQ(leases.AddressOf(kA, 50), kY);
  EXPECT_FALSE(leases.MacFor(kX, 50));
  EXPECT_EQ(leases.size(), 1u);
}

TEST(Ipv6Leases, OnlyTheHolderReleasesAndAMovedAddressLeavesItsOldHolder) {
  Ipv6Leases leases;
  leases.Bind(kA, kX, 100);
  leases.Release(kB, kX);  // not B's
  EXPECT_EQ(leases.MacFor(kX, 0), kA);
  leases.Release(kA, kY);  // not A's address
  EXPECT_EQ(leases.AddressOf(kA, 0), kX);
  leases.Bind(kB, kX, 100);  // the responder gave X to B (A's lease had ended)
  EXPECT_FALSE(leases.AddressOf(kA, 0));
  EXPECT_EQ(leases.MacFor(kX, 0), kB);
  leases.Release(kB, kX);
  EXPECT_FALSE(leases.MacFor(kX, 0));
  EXPECT_EQ(leases.size(), 0u);
}

TEST(Ipv6Leases, BoundedTheSoonestToEndMakesRoom) {
  Ipv6Leases leases(2);
  leases.Bind(kA, kX, 50);
  leases.Bind(kB, kY, 500);
  const MacAddress c = *MacAddress::Parse("52:54:00:00:00:0c");
  leases.Bind(c, *Ipv6Address::Parse("fd00:66::102"), 300);
  EXPECT_EQ(leases.size(), 2u);
  EXPECT_FALSE(leases.AddressOf(kA, 0));
  EXPECT_EQ(leases.AddressOf(kB, 0), kY);
}

TEST(Ipv6TokenBinding, BoundToTheLeaseRefusedElsewhereMacOnlyWithout) {
  const auto bound = DecideIpv6TokenBinding(kX, kX);
  EXPECT_EQ(bound.kind, Ipv6TokenBinding::Kind::kBound);
  EXPECT_EQ(bound.bound, kX);
  const auto refused = DecideIpv6TokenBinding(kX, kY);
  EXPECT_EQ(refused.kind, Ipv6TokenBinding::Kind::kRefused);
  EXPECT_EQ(refused.why, "installer refused to fd00:66::101: that MAC holds fd00:66::100");
  const auto mac_only = DecideIpv6TokenBinding(std::nullopt, kY);
  EXPECT_EQ(mac_only.kind, Ipv6TokenBinding::Kind::kMacOnly);
  EXPECT_FALSE(mac_only.bound);
}

TEST(Ipv6TokenBinding, RedeemedFromTheBoundAddressOrTheMacsLeaseOnly) {
  EXPECT_TRUE(Ipv6PeerMayRedeem(kX, kX, std::nullopt));
  EXPECT_TRUE(Ipv6PeerMayRedeem(kX, kY, kY));  // the installer's DHCPv6 got another address for the MAC
  EXPECT_FALSE(Ipv6PeerMayRedeem(kX, kY, kX));
  EXPECT_FALSE(Ipv6PeerMayRedeem(kX, kY, std::nullopt));
}

}  // namespace
}  // namespace metalpxe
