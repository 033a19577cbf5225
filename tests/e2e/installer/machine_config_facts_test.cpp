#include "tests/e2e/installer/machine_config_facts.h"

#include <gtest/gtest.h>

namespace metalpxe::standin {
namespace {

TEST(StandinConfigFacts, V1Alpha1NetworkDiskAndPki) {
  // "-----BEGIN X-----\n" base64-encoded, as Talos stores PEM.
  const std::string yaml =
      "version: v1alpha1\nmachine:\n  type: controlplane\n  ca:\n    crt: LS0tLS1CRUdJTiBYLS0tLS0K\n    key: \"\"\n"
      "  install:\n    disk: /dev/vdb\n  network:\n    hostname: cp-1\n    interfaces:\n"
      "      - interface: eth9\n        addresses: [10.0.0.9/24]\n"
      "      - deviceSelector: {hardwareAddr: \"52:54:00:E2:E0:01\"}\n        addresses: [10.66.0.11/24]\n"
      "        routes: [{network: 0.0.0.0/0, gateway: 10.66.0.1}]\n        dhcp: false\n"
      "cluster:\n  clusterName: lab\n  controlPlane: {endpoint: \"https://10.66.0.11:6443\"}\n";
  auto f = FactsFromTalosConfig(yaml, "eth0", "52:54:00:e2:e0:01");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->role, "controlplane");
  EXPECT_EQ(f->hostname, "cp-1");
  EXPECT_EQ(f->install_disk, "/dev/vdb");
  ASSERT_TRUE(f->address.has_value());
  EXPECT_EQ(f->address->cidr, "10.66.0.11/24");
  EXPECT_EQ(f->address->gateway, "10.66.0.1");
  EXPECT_EQ(f->machine_ca_crt, "-----BEGIN X-----\n");
  EXPECT_EQ(f->machine_ca_key, "") << "a worker-style config has no CA key";
  EXPECT_EQ(f->endpoint, "https://10.66.0.11:6443");
  EXPECT_EQ(f->cluster_name, "lab");
}

TEST(StandinConfigFacts, MultiDocumentNetwork) {
  const std::string yaml =
      "version: v1alpha1\nmachine:\n  type: worker\n  network: {hostname: old}\n---\n"
      "apiVersion: v1alpha1\nkind: HostnameConfig\nhostname: wk-1\nauto: off\n---\n"
      "apiVersion: v1alpha1\nkind: LinkConfig\nname: eth0\naddresses:\n  - address: 10.66.0.21/24\n"
      "routes:\n  - gateway: 10.66.0.1\n";
  auto f = FactsFromTalosConfig(yaml, "eth0", "52:54:00:e2:e0:02");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->hostname, "wk-1");
  ASSERT_TRUE(f->address.has_value());
  EXPECT_EQ(f->address->cidr, "10.66.0.21/24");
  EXPECT_EQ(f->address->gateway, "10.66.0.1");
  EXPECT_FALSE(FactsFromTalosConfig(yaml, "eth1", "").value().address.has_value()) << "another NIC's LinkConfig";
}

TEST(StandinConfigFacts, RejectsWhatIsNotAMachineConfig) {
  EXPECT_FALSE(FactsFromTalosConfig("", "eth0", "").ok());
  EXPECT_FALSE(FactsFromTalosConfig("machine: {}\n", "eth0", "").ok());
  EXPECT_FALSE(FactsFromTalosConfig("machine: [\n", "eth0", "").ok());
}

}  // namespace
}  // namespace metalpxe::standin
