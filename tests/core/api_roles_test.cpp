// The role table's decisions and the client ledger / deny list formats.
// (That every rpc of the service has a row is checked against the real
// service descriptor in tests/management/mgmt_roles_test.cpp.)
#include <gtest/gtest.h>

#include "core/api_roles.h"
#include "core/client_ledger.h"

namespace metalpxe {
namespace {

TEST(ApiRoles, OrganizationsGiveTheHighestRole) {
  EXPECT_EQ(ApiRoleFromOrganizations({"metalpxe:viewer"}), ApiRole::kViewer);
  EXPECT_EQ(ApiRoleFromOrganizations({"metalpxe:viewer", "metalpxe:admin", "metalpxe:operator"}), ApiRole::kAdmin);
  EXPECT_EQ(ApiRoleFromOrganizations({"metalpxe"}), std::nullopt);  // the server certificate's O
  EXPECT_EQ(ApiRoleFromOrganizations({"os:admin", "metalpxe:root", "Metalpxe:admin", "metalpxe:admin "}), std::nullopt);
  EXPECT_EQ(ApiRoleFromOrganizations({}), std::nullopt);
  EXPECT_EQ(ApiRoleOrganization(ApiRole::kOperator), "metalpxe:operator");
}

TEST(ApiRoles, RolesAreOrderedAndRefusalsNameTheNeededRole) {
  EXPECT_TRUE(DecideApiCall("ListMachines", ApiRole::kViewer).allowed);
  EXPECT_FALSE(DecideApiCall("Power", ApiRole::kViewer).allowed);
  EXPECT_TRUE(DecideApiCall("Power", ApiRole::kOperator).allowed);
  EXPECT_TRUE(DecideApiCall("Power", ApiRole::kAdmin).allowed);
  EXPECT_FALSE(DecideApiCall("IssueClientConfig", ApiRole::kOperator).allowed);
  EXPECT_TRUE(DecideApiCall("IssueClientConfig", ApiRole::kAdmin).allowed);
  auto d = DecideApiCall("Reinstall", ApiRole::kViewer);
  EXPECT_EQ(d.refusal,
            "Reinstall needs the operator role (certificate Organization metalpxe:operator); this client's "
            "certificate has the viewer role");
  EXPECT_NE(DecideApiCall("Version", std::nullopt).refusal.find("has no metalpxe role"), std::string::npos);
  EXPECT_FALSE(DecideApiCall("Version", std::nullopt).allowed);
}

TEST(ApiRoles, UnknownRpcNeedsAdmin) {
  EXPECT_FALSE(DecideApiCall("DropAllMachines", ApiRole::kOperator).allowed);
  EXPECT_TRUE(DecideApiCall("DropAllMachines", ApiRole::kAdmin).allowed);
  EXPECT_TRUE(RuleForRpc("DropAllMachines").changes_state);
}

TEST(ApiRoles, TheBriefsSplit) {
  // Operator: power, reinstall, accept. Viewer: reads only. Admin: access.
  for (const auto& rule : ManagementRpcRules()) {
    if (rule.changes_state) {
      EXPECT_NE(rule.required, ApiRole::kViewer) << rule.rpc;
    }
  }
  EXPECT_EQ(RuleForRpc("AcceptMachine").required, ApiRole::kOperator);
  EXPECT_EQ(RuleForRpc("Reinstall").required, ApiRole::kOperator);
  EXPECT_EQ(RuleForRpc("RevokeClientConfig").required, ApiRole::kAdmin);
  EXPECT_EQ(RuleForRpc("ListClientConfigs").required, ApiRole::kAdmin);
  EXPECT_EQ(RuleForRpc("WatchEvents").required, ApiRole::kViewer);
}

TEST(ClientLedger, SerialsNormalize) {
  EXPECT_EQ(NormalizeSerial("0A:1B:ff"), "a1bff");
  EXPECT_EQ(NormalizeSerial("0x00ab"), "ab");
  EXPECT_EQ(NormalizeSerial("0"), "0");
  EXPECT_EQ(NormalizeSerial("00:00"), "0");
  EXPECT_EQ(NormalizeSerial(""), std::nullopt);
  EXPECT_EQ(NormalizeSerial("::"), std::nullopt);
  EXPECT_EQ(NormalizeSerial("bob"), std::nullopt);
  EXPECT_EQ(NormalizeSerial(std::string(81, 'f')), std::nullopt);
}

TEST(ClientLedger, Names) {
  EXPECT_TRUE(IsValidClientName("alice"));
  EXPECT_TRUE(IsValidClientName("ci-bot.2"));
  EXPECT_FALSE(IsValidClientName(""));
  EXPECT_FALSE(IsValidClientName("-x"));
  EXPECT_FALSE(IsValidClientName("Alice"));
  EXPECT_FALSE(IsValidClientName("a/b"));
  EXPECT_FALSE(IsValidClientName("a b"));
  EXPECT_FALSE(IsValidClientName(std::string(65, 'a')));
}

TEST(ClientLedger, RoundTrips) {
  IssuedClientConfig a{"alice", ApiRole::kViewer, "a1b2", 1700000000, 1731536000, "admin", 0, ""};
  IssuedClientConfig b{"ops", ApiRole::kOperator, "ff", 1700000001, 1731536001, "admin", 1700000100, "root"};
  auto parsed = ParseClientLedger(RenderClientLedger({a, b}));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].name, "alice");
  EXPECT_EQ((*parsed)[0].role, ApiRole::kViewer);
  EXPECT_EQ((*parsed)[0].serial, "a1b2");
  EXPECT_EQ((*parsed)[0].revoked_unix, 0);
  EXPECT_EQ((*parsed)[1].role, ApiRole::kOperator);
  EXPECT_EQ((*parsed)[1].revoked_unix, 1700000100);
  EXPECT_EQ((*parsed)[1].revoked_by, "root");
  EXPECT_TRUE(ParseClientLedger("").ok());
}

TEST(ClientLedger, MalformedLedgersAreErrors) {
  for (const char* bad : {"[1,2]", "clients: 3", "clients: [1]", "clients: [{name: Alice, role: viewer, serial: a}]",
                          "clients: [{name: a, role: root, serial: a}]", "clients: [{name: a, role: viewer, serial: x}]",
                          "clients: [{name: a, role: viewer, serial: a, issuedUnix: -5}]",
                          "clients: [{name: [a], role: viewer, serial: a}]", "clients: [{name: a, role: viewer, "
                          "serial: a, issuedUnix: 99999999999999999999999}]", "{"}) {
    EXPECT_FALSE(ParseClientLedger(bad).ok()) << bad;
  }
}

TEST(ClientLedger, DenyList) {
  auto parsed = ParseRevokedSerials(RenderRevokedSerials({"ab", "1"}) + "  0x0C  # by hand\n\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, (std::set<std::string>{"1", "ab", "c"}));
  auto bad = ParseRevokedSerials("ab\nnot-a-serial\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos);
}

}  // namespace
}  // namespace metalpxe
