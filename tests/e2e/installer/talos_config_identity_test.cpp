#include "tests/e2e/installer/talos_config_identity.h"

#include <gtest/gtest.h>

#include "tests/e2e/installer/disk_marker.h"

namespace metalpxe::standin {
namespace {

TEST(StandinConfigIdentity, ReadsHostnameRoleAndFixture) {
  auto id = IdentityFromTalosConfig(
      "# metalpxe-fixture: controlplane-base\n"
      "version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    hostname: cp-1\n");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id->role, "controlplane");
  EXPECT_EQ(id->hostname, "cp-1");
  EXPECT_EQ(id->marker, "controlplane-base");
  EXPECT_EQ(MarkerLine(*id),
            "METALPXE-STANDIN-INSTALLED hostname=cp-1 role=controlplane fixture=controlplane-base\n");
}

TEST(StandinConfigIdentity, FixtureLabelWinsOverComment) {
  auto id = IdentityFromTalosConfig(
      "# metalpxe-fixture: stale\nmachine:\n  type: worker\n  nodeLabels:\n    metalpxe-fixture: worker-base\n");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->marker, "worker-base");
}

TEST(StandinConfigIdentity, MultiDocumentAndNoHostname) {
  auto id = IdentityFromTalosConfig("apiVersion: v1alpha1\nkind: Other\n---\nmachine:\n  type: worker\n");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->role, "worker");
  EXPECT_EQ(id->hostname, "");
  EXPECT_EQ(MarkerLine(*id), "METALPXE-STANDIN-INSTALLED hostname=- role=worker\n");
}

TEST(StandinConfigIdentity, HostnameFromAHostnameConfigDocument) {
  auto id = IdentityFromTalosConfig(
      "version: v1alpha1\nmachine:\n  type: worker\n---\napiVersion: v1alpha1\nkind: HostnameConfig\n"
      "auto: \"off\"\nhostname: w-1\n");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->role, "worker");
  EXPECT_EQ(id->hostname, "w-1");
}

TEST(StandinConfigIdentity, RejectsWhatIsNotAMachineConfig) {
  EXPECT_FALSE(IdentityFromTalosConfig("").ok());
  EXPECT_FALSE(IdentityFromTalosConfig("forbidden").ok());
  EXPECT_FALSE(IdentityFromTalosConfig("machine: [1, 2]\n").ok());
  EXPECT_FALSE(IdentityFromTalosConfig("machine:\n  network: {}\n").ok());
  EXPECT_FALSE(IdentityFromTalosConfig("machine: {type: [a]}\n").ok());
  EXPECT_FALSE(IdentityFromTalosConfig("machine:\n  type: worker\n  bad: [\n").ok());
  EXPECT_FALSE(IdentityFromTalosConfig(",$2[").ok());  // yaml-cpp's LoadAll never returns here
}

}  // namespace
}  // namespace metalpxe::standin
