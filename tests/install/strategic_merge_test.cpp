// The talosctl strategic-merge rules on small documents.
#include <gtest/gtest.h>

#include "core/install/strategic_merge.h"
#include "core/install/yaml_tree.h"
#include "core/install/yaml_writer.h"

namespace metalpxe {
namespace {

YamlValue Doc(const std::string& text) {
  auto docs = ParseYamlDocuments(text, "test");
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  return docs.ok() && !docs->empty() ? (*docs)[0] : YamlValue::Map();
}

// Applies the patches in order; returns the result, or the error message.
std::string Merge(const std::string& base, std::initializer_list<std::string> patches,
                  MergeRules rules = MergeRules::kV1Alpha1) {
  YamlValue doc = Doc(base);
  int n = 0;
  for (const auto& p : patches) {
    Status s = ApplyStrategicPatch(doc, Doc(p), "patch " + std::to_string(++n), rules);
    if (!s.ok()) return "error: " + s.message();
  }
  return WriteYaml(doc);
}

void ExpectSame(const std::string& actual, const std::string& expected) {
  ASSERT_EQ(actual.rfind("error:", 0), std::string::npos) << actual;
  EXPECT_TRUE(SemanticallyEqual(Doc(actual), Doc(expected))) << "got:\n" << actual << "want:\n" << expected;
}

TEST(install_strategic_merge, MapsMergeScalarsReplaceNullIsANoOp) {
  ExpectSame(Merge("machine: {a: 1, b: {c: 2, d: 3}}", {"machine: {a: 9, b: {d: 4, e: 5}, f: 6}"}),
             "machine: {a: 9, b: {c: 2, d: 4, e: 5}, f: 6}");
  ExpectSame(Merge("machine: {a: 1}", {"machine: {a: null, b: ~}"}), "machine: {a: 1}");
  EXPECT_EQ(Merge("machine: {a: 1}", {"machine: {a: {x: 1}}"}).substr(0, 6), "error:");
}

TEST(install_strategic_merge, ListsAppendLikeTalosctl) {
  ExpectSame(Merge("machine: {certSANs: [a], kubelet: {extraMounts: [{destination: /x}]}}",
                   {"machine: {certSANs: [b, c], kubelet: {extraMounts: [{destination: /y}]}}"}),
             "machine: {certSANs: [a, b, c], kubelet: {extraMounts: [{destination: /x}, {destination: /y}]}}");
  // Inline manifests too: Talos has no keyed merge for them.
  ExpectSame(Merge("cluster: {inlineManifests: [{name: a, contents: x}]}",
                   {"cluster: {inlineManifests: [{name: a, contents: y}]}"}),
             "cluster: {inlineManifests: [{name: a, contents: x}, {name: a, contents: y}]}");
}

TEST(install_strategic_merge, ReplaceTaggedFields) {
  ExpectSame(Merge("cluster: {network: {podSubnets: [a], serviceSubnets: [b]}, apiServer: {auditPolicy: "
                   "{kind: Policy, rules: [{level: Metadata}]}}}",
                   {"cluster: {network: {podSubnets: [c], serviceSubnets: [d]}, apiServer: {auditPolicy: "
                    "{kind: Policy, rules: [{level: None}]}}}"}),
             "cluster: {network: {podSubnets: [c], serviceSubnets: [d]}, apiServer: {auditPolicy: "
             "{kind: Policy, rules: [{level: None}]}}}");
  // Only in the v1alpha1 document.
  ExpectSame(Merge("cluster: {network: {podSubnets: [a]}}", {"cluster: {network: {podSubnets: [c]}}"},
                   MergeRules::kGeneric),
             "cluster: {network: {podSubnets: [a, c]}}");
}

TEST(install_strategic_merge, NetworkInterfacesMergeByInterfaceThenDeviceSelector) {
  ExpectSame(Merge(R"(
machine:
  network:
    interfaces:
      - interface: eth0
        addresses: [10.0.0.2/24]
      - deviceSelector: {hardwareAddr: "aa:bb:cc:dd:ee:ff"}
        dhcp: true
)",
                   {R"(
machine:
  network:
    interfaces:
      - interface: eth0
        mtu: 9000
        addresses: [10.0.0.3/24]
      - deviceSelector: {hardwareAddr: "aa:bb:cc:dd:ee:ff"}
        dhcp: false
      - deviceSelector: {driver: virtio_net}
        dhcp: true
)"}),
             R"(
machine:
  network:
    interfaces:
      - interface: eth0
        addresses: [10.0.0.2/24, 10.0.0.3/24]
        mtu: 9000
      - deviceSelector: {hardwareAddr: "aa:bb:cc:dd:ee:ff"}
        dhcp: false
      - deviceSelector: {driver: virtio_net}
        dhcp: true
)");
}

TEST(install_strategic_merge, VlansMergeByVlanIdAdmissionPluginsByName) {
  ExpectSame(Merge("machine: {network: {interfaces: [{interface: eth0, vlans: [{vlanId: 10, mtu: 1500}]}]}}",
                   {"machine: {network: {interfaces: [{interface: eth0, vlans: [{vlanId: 10, mtu: 9000}, "
                    "{vlanId: 20}]}]}}"}),
             "machine: {network: {interfaces: [{interface: eth0, vlans: [{vlanId: 10, mtu: 9000}, {vlanId: 20}]}]}}");
  ExpectSame(Merge("cluster: {apiServer: {admissionControl: [{name: PodSecurity, configuration: {a: 1}}]}}",
                   {"cluster: {apiServer: {admissionControl: [{name: PodSecurity, configuration: {b: 2}}, "
                    "{name: Other}]}}"}),
             "cluster: {apiServer: {admissionControl: [{name: PodSecurity, configuration: {a: 1, b: 2}}, "
             "{name: Other}]}}");
}

TEST(install_strategic_merge, DeleteKeysAndListItemsBeforeMergingTheRest) {
  // As Talos's testdata/patchdelete: delete eth0, then the same patch adds it anew.
  ExpectSame(Merge("machine: {network: {hostname: h, interfaces: [{interface: eth0, mtu: 1}, {interface: eth1}]}}",
                   {R"(
machine:
  network:
    hostname:
      $patch: delete
    interfaces:
      - interface: eth0
        $patch: delete
      - interface: eth0
        dummy: true
)"}),
             "machine: {network: {interfaces: [{interface: eth1}, {interface: eth0, dummy: true}]}}");
}

TEST(install_strategic_merge, DeleteErrorsFollowTalos) {
  EXPECT_NE(Merge("machine: {}", {"machine: {network: {hostname: {$patch: delete}}}"}).find("nothing there"),
            std::string::npos);
  EXPECT_NE(Merge("machine: {a: [{name: x}]}", {"machine: {a: [{name: y, $patch: delete}]}"}).find("nothing there"),
            std::string::npos);
  EXPECT_NE(Merge("machine: {a: [{b: {c: 1}}]}", {"machine: {a: [{b: {c: {$patch: delete}}}]}"})
                .find("inside a list item"),
            std::string::npos);
  EXPECT_NE(Merge("machine: {}", {"$patch: delete"}).find("whole document"), std::string::npos);
  EXPECT_NE(Merge("machine: {}", {"machine: {$patch: replace}"}).find("only `$patch: delete`"), std::string::npos);
}

TEST(install_strategic_merge, PatchMustBeAMap) {
  YamlValue doc = Doc("machine: {}");
  EXPECT_FALSE(ApplyStrategicPatch(doc, YamlValue::Plain("x"), "p", MergeRules::kV1Alpha1).ok());
  EXPECT_FALSE(ApplyStrategicPatch(doc, YamlValue::Seq(), "p", MergeRules::kV1Alpha1).ok());
}

}  // namespace
}  // namespace metalpxe
