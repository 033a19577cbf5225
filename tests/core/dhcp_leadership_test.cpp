// Who answers DHCP: every subnet with one appliance; with an election only
// the leader, and only once it has read the leases of its term.
#include "core/dhcp_leadership.h"

#include <gtest/gtest.h>

namespace metalpxe {
namespace {

Ipv4Cidr Net(const char* text) { return *Ipv4Cidr::Parse(text); }

DhcpLeadership Elected(std::vector<DhcpSubnetRole> roles) {
  DhcpLeadership l;
  l.elected = true;
  l.subnets = std::move(roles);
  return l;
}

TEST(DhcpLeadership, SingleApplianceAnswersEverySubnetAndNone) {
  DhcpLeadership single;
  EXPECT_EQ(ShouldAnswerDhcp(single, Net("10.66.0.0/24")), DhcpAnswer::kAnswer);
  EXPECT_EQ(ShouldAnswerDhcp(single, std::nullopt), DhcpAnswer::kAnswer);  // the responder then finds no pool
  const DhcpLeadership standby = StandbyLeadership({Net("10.66.0.0/24")});
  EXPECT_EQ(DhcpSubnetRoleName(single, standby.subnets[0]), "single");
  EXPECT_EQ(DhcpSubnetRoleName(standby, standby.subnets[0]), "standby");
  EXPECT_EQ(ShouldAnswerDhcp(standby, Net("10.66.0.0/24")), DhcpAnswer::kStandby);
}

TEST(DhcpLeadership, OnlyTheLeaderOfTheRequestsSubnetAnswers) {
  const auto l = Elected({{Net("10.66.0.0/24"), true, 7, 7, "a"}, {Net("10.67.0.0/24"), false, 0, 0, "b"}});
  EXPECT_EQ(ShouldAnswerDhcp(l, Net("10.66.0.0/24")), DhcpAnswer::kAnswer);
  EXPECT_EQ(ShouldAnswerDhcp(l, Net("10.67.0.0/24")), DhcpAnswer::kStandby);
  EXPECT_EQ(ShouldAnswerDhcp(l, Net("10.68.0.0/24")), DhcpAnswer::kStandby);  // no election for it
  EXPECT_EQ(ShouldAnswerDhcp(l, std::nullopt), DhcpAnswer::kStandby);
  EXPECT_EQ(DhcpSubnetRoleName(l, l.subnets[0]), "leader");
  EXPECT_EQ(DhcpSubnetRoleName(l, l.subnets[1]), "standby");
}

TEST(DhcpLeadership, ANewTermWaitsForItsLeaseRead) {
  // Leader again in term 12, but the table read was for term 7 (a former
  // leadership): the table may miss what another leader granted meanwhile.
  auto l = Elected({{Net("10.66.0.0/24"), true, 12, 7, "a"}});
  EXPECT_EQ(ShouldAnswerDhcp(l, Net("10.66.0.0/24")), DhcpAnswer::kTakingOver);
  EXPECT_EQ(DhcpSubnetRoleName(l, l.subnets[0]), "taking-over");
  l.subnets[0].leases_loaded_term = 12;
  EXPECT_EQ(ShouldAnswerDhcp(l, Net("10.66.0.0/24")), DhcpAnswer::kAnswer);
}

TEST(DhcpLeadership, NoTermNoAnswer) {
  // A leader flag without a term (nothing read, nothing won) never answers.
  const auto l = Elected({{Net("10.66.0.0/24"), true, 0, 0, ""}});
  EXPECT_EQ(ShouldAnswerDhcp(l, Net("10.66.0.0/24")), DhcpAnswer::kStandby);
  EXPECT_EQ(DhcpSubnetRoleName(l, l.subnets[0]), "taking-over");
}

TEST(DhcpLeadership, FindsRolesBySubnet) {
  const auto l = Elected({{Net("10.66.0.0/24"), false, 0, 0, "b"}});
  ASSERT_NE(FindDhcpSubnetRole(l, Net("10.66.0.0/24")), nullptr);
  EXPECT_EQ(FindDhcpSubnetRole(l, Net("10.66.0.0/24"))->leader_name, "b");
  EXPECT_EQ(FindDhcpSubnetRole(l, Net("10.66.0.0/25")), nullptr);
}

}  // namespace
}  // namespace metalpxe
