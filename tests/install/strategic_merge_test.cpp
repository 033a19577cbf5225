// The talosctl patch rules on small documents: strategic merge per document
// kind, `$patch: delete`, multi-document matching, JSON6902 on configs.
#include <gtest/gtest.h>

#include "core/install/strategic_merge.h"
#include "core/install/talos_patch.h"
#include "core/install/yaml_tree.h"
#include "core/install/yaml_writer.h"

namespace metalpxe {
namespace {

std::vector<YamlValue> Docs(const std::string& text) {
  auto docs = ParseYamlDocuments(text, "test");
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  return docs.ok() ? *docs : std::vector<YamlValue>{};
}

// Applies each patch (one YAML value each) in order to the config; returns
// the result, or "error: <message>".
std::string Apply(const std::string& config, std::initializer_list<std::string> patches) {
  std::vector<YamlValue> docs = Docs(config);
  int n = 0;
  for (const auto& text : patches) {
    const std::string name = "patch " + std::to_string(++n);
    auto patch = PatchFromValue(Docs(text).at(0), name);
    if (!patch.ok()) return "error: " + patch.status().message();
    if (Status s = ApplyTalosPatch(docs, *patch, name); !s.ok()) return "error: " + s.message();
  }
  return WriteYamlDocuments(docs);
}

void ExpectSame(const std::string& actual, const std::string& expected) {
  ASSERT_EQ(actual.rfind("error:", 0), std::string::npos) << actual;
  const auto a = Docs(actual);
  const auto e = Docs(expected);
  bool same = a.size() == e.size();
  for (std::size_t i = 0; same && i < a.size(); ++i) same = SemanticallyEqual(a[i], e[i]);
  EXPECT_TRUE(same) << "got:\n" << actual << "want:\n" << expected;
}

void ExpectError(const std::string& actual, const std::string& fragment) {
  EXPECT_EQ(actual.rfind("error:", 0), 0u) << actual;
  EXPECT_NE(actual.find(fragment), std::string::npos) << actual;
}

TEST(install_strategic_merge, MapsMergeScalarsReplaceNullIsANoOp) {
  ExpectSame(Apply("machine: {a: 1, b: {c: 2, d: 3}}", {"machine: {a: 9, b: {d: 4, e: 5}, f: 6}"}),
             "machine: {a: 9, b: {c: 2, d: 4, e: 5}, f: 6}");
  ExpectSame(Apply("machine: {a: 1}", {"machine: {a: null, b: ~}"}), "machine: {a: 1}");
  ExpectError(Apply("machine: {a: 1}", {"machine: {a: {x: 1}}"}), "machine.a is a scalar in the config but a map");
}

TEST(install_strategic_merge, ZeroValuesDoNotReplaceButFalseDoes) {
  // merge.go: "merged into the left unless it's zero value, but boolean false is always merged".
  ExpectSame(Apply("machine: {a: x, b: 5, c: true, d: 1.5}", {"machine: {a: '', b: 0, c: false, d: 0.0, e: ''}"}),
             "machine: {a: x, b: 5, c: false, d: 1.5, e: ''}");
}

TEST(install_strategic_merge, ListsAppendLikeTalosctl) {
  ExpectSame(Apply("machine: {certSANs: [a], kubelet: {extraMounts: [{destination: /x}]}}",
                   {"machine: {certSANs: [b, c], kubelet: {extraMounts: [{destination: /y}]}}"}),
             "machine: {certSANs: [a, b, c], kubelet: {extraMounts: [{destination: /x}, {destination: /y}]}}");
  // Inline manifests too: Talos has no keyed merge for them.
  ExpectSame(Apply("cluster: {inlineManifests: [{name: a, contents: x}]}",
                   {"cluster: {inlineManifests: [{name: a, contents: y}]}"}),
             "cluster: {inlineManifests: [{name: a, contents: x}, {name: a, contents: y}]}");
}

TEST(install_strategic_merge, ReplaceTaggedFieldsPerDocumentKind) {
  ExpectSame(Apply("cluster: {network: {podSubnets: [a], serviceSubnets: [b]}, apiServer: {auditPolicy: "
                   "{kind: Policy, rules: [{level: Metadata}]}}}",
                   {"cluster: {network: {podSubnets: [c], serviceSubnets: [d]}, apiServer: {auditPolicy: "
                    "{kind: Policy, rules: [{level: None}]}}}"}),
             "cluster: {network: {podSubnets: [c], serviceSubnets: [d]}, apiServer: {auditPolicy: "
             "{kind: Policy, rules: [{level: None}]}}}");
  // KubeNetworkConfig (1.14) has the same tags; a kind without them appends.
  ExpectSame(Apply("{apiVersion: v1alpha1, kind: KubeNetworkConfig, podSubnets: [a]}",
                   {"{apiVersion: v1alpha1, kind: KubeNetworkConfig, podSubnets: [c]}"}),
             "{apiVersion: v1alpha1, kind: KubeNetworkConfig, podSubnets: [c]}");
  ExpectSame(Apply("{apiVersion: v1alpha1, kind: LinkConfig, name: eth0, addresses: [{address: a}]}",
                   {"{apiVersion: v1alpha1, kind: LinkConfig, name: eth0, addresses: [{address: b}]}"}),
             "{apiVersion: v1alpha1, kind: LinkConfig, name: eth0, addresses: [{address: a}, {address: b}]}");
}

TEST(install_strategic_merge, ArgsReplaceEachKeyWhole) {
  // meta.Args.Merge is maps.Copy: a list value is replaced, not appended.
  ExpectSame(Apply("cluster: {apiServer: {extraArgs: {a: [x], b: y}}}",
                   {"cluster: {apiServer: {extraArgs: {a: [z], c: w}}}"}),
             "cluster: {apiServer: {extraArgs: {a: [z], b: y, c: w}}}");
  ExpectSame(Apply("{apiVersion: v1alpha1, kind: KubeletConfig, extraArgs: {a: [x]}}",
                   {"{apiVersion: v1alpha1, kind: KubeletConfig, extraArgs: {a: [z]}}"}),
             "{apiVersion: v1alpha1, kind: KubeletConfig, extraArgs: {a: [z]}}");
}

TEST(install_strategic_merge, NetworkInterfacesMergeByInterfaceThenDeviceSelector) {
  ExpectSame(Apply(R"(
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

TEST(install_strategic_merge, KeyedListsOfEveryKind) {
  ExpectSame(Apply("machine: {network: {interfaces: [{interface: eth0, vlans: [{vlanId: 10, mtu: 1500}, {mtu: 1}]}]}}",
                   {"machine: {network: {interfaces: [{interface: eth0, vlans: [{vlanId: 10, mtu: 9000}, "
                    "{vlanId: 20}, {vlanId: 0, mtu: 2}]}]}}"}),
             "machine: {network: {interfaces: [{interface: eth0, vlans: [{vlanId: 10, mtu: 9000}, {mtu: 2, vlanId: 0}, "
             "{vlanId: 20}]}]}}");
  ExpectSame(Apply("cluster: {apiServer: {admissionControl: [{name: PodSecurity, configuration: {a: 1}}]}}",
                   {"cluster: {apiServer: {admissionControl: [{name: PodSecurity, configuration: {b: 2}}, "
                    "{name: Other}]}}"}),
             "cluster: {apiServer: {admissionControl: [{name: PodSecurity, configuration: {a: 1, b: 2}}, "
             "{name: Other}]}}");
  // ConfigFileList.Merge by mountPath.
  ExpectSame(Apply("{apiVersion: v1alpha1, kind: ExtensionServiceConfig, name: s, configFiles: "
                   "[{content: a, mountPath: /x}], environment: [A=1]}",
                   {"{apiVersion: v1alpha1, kind: ExtensionServiceConfig, name: s, configFiles: "
                    "[{content: b, mountPath: /x}, {content: c, mountPath: /y}], environment: [B=2]}"}),
             "{apiVersion: v1alpha1, kind: ExtensionServiceConfig, name: s, configFiles: "
             "[{content: b, mountPath: /x}, {content: c, mountPath: /y}], environment: [A=1, B=2]}");
  // ImageVerificationRules.Merge replaces a rule with the same image.
  ExpectSame(Apply("{apiVersion: v1alpha1, kind: ImageVerificationConfig, rules: [{image: a, skip: true, deny: true}]}",
                   {"{apiVersion: v1alpha1, kind: ImageVerificationConfig, rules: [{image: a, skip: false}]}"}),
             "{apiVersion: v1alpha1, kind: ImageVerificationConfig, rules: [{image: a, skip: false}]}");
}

TEST(install_strategic_merge, DeleteKeysAndListItemsBeforeMergingTheRest) {
  // As Talos's testdata/patchdelete: delete eth0, then the same patch adds it anew.
  ExpectSame(Apply("machine: {network: {hostname: h, interfaces: [{interface: eth0, mtu: 1}, {interface: eth1}]}}",
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

TEST(install_strategic_merge, DeleteLookupsFollowTalos) {
  // Through something absent: lookup failed (TestPatchDeleteMissing).
  ExpectError(Apply("machine: {}", {"machine: {network: {hostname: {$patch: delete}}}"}), "lookup failed");
  // An unset field of a struct is cleared without complaint...
  ExpectSame(Apply("machine: {network: {}}", {"machine: {network: {hostname: {$patch: delete}}}"}),
             "machine: {network: {}}");
  // ...a free-form map lacking the key is a failed lookup.
  ExpectError(Apply("machine: {nodeLabels: {a: b}}", {"machine: {nodeLabels: {c: {$patch: delete}}}"}),
              "lookup failed");
  ExpectSame(Apply("machine: {nodeLabels: {a: b, c: d}}", {"machine: {nodeLabels: {c: {$patch: delete}}}"}),
             "machine: {nodeLabels: {a: b}}");
  ExpectError(Apply("machine: {a: [{name: x}]}", {"machine: {a: [{name: y, $patch: delete}]}"}), "lookup failed");
  ExpectError(Apply("machine: {a: [{b: {c: 1}}]}", {"machine: {a: [{b: {c: {$patch: delete}}}]}"}),
              "cannot delete an inner key");
  ExpectError(Apply("machine: {}", {"{version: v1alpha1, $patch: delete}"}), "needs its apiVersion and kind");
  ExpectError(Apply("machine: {}", {"machine: {$patch: replace}"}), "only `$patch: delete`");
}

TEST(install_strategic_merge, DocumentsMatchByApiVersionKindAndName) {
  const std::string base = R"(version: v1alpha1
machine: {type: worker}
---
apiVersion: v1alpha1
kind: LinkConfig
name: eth0
mtu: 1500
---
apiVersion: v1alpha1
kind: LinkConfig
name: eth1
mtu: 1500
)";
  ExpectSame(Apply(base, {"{apiVersion: v1alpha1, kind: LinkConfig, name: eth1, mtu: 9000}",
                          "{apiVersion: v1alpha1, kind: LinkConfig, name: eth2, mtu: 1280}",
                          "{apiVersion: v1alpha1, kind: LinkConfig, name: eth0, $patch: delete}",
                          "{machine: {type: controlplane}}"}),
             R"(version: v1alpha1
machine: {type: controlplane}
---
{apiVersion: v1alpha1, kind: LinkConfig, name: eth1, mtu: 9000}
---
{apiVersion: v1alpha1, kind: LinkConfig, name: eth2, mtu: 1280}
)");
  // Talos 1.14: deletes for documents the config does not have are skipped.
  ExpectSame(Apply(base, {"{apiVersion: v1alpha1, kind: KubeFlannelCNIConfig, $patch: delete}",
                          "{apiVersion: v1alpha1, kind: LinkConfig, name: eth9, mtu: {$patch: delete}}"}),
             base + "---\n{apiVersion: v1alpha1, kind: LinkConfig, name: eth9}\n");
  // A config of other documents only takes a v1alpha1 patch as a new document.
  ExpectSame(Apply("{apiVersion: v1alpha1, kind: HostnameConfig, auto: stable}", {"machine: {type: worker}"}),
             "{apiVersion: v1alpha1, kind: HostnameConfig, auto: stable}\n---\nmachine: {type: worker}\n");
}

TEST(install_strategic_merge, JsonPatchesApplyToSingleDocumentConfigsOnly) {
  ExpectSame(Apply("version: v1alpha1\nmachine: {network: {hostname: a}}",
                   {"[{op: replace, path: /machine/network/hostname, value: b}, "
                    "{op: add, path: /machine/certSANs, value: [c]}]"}),
             "version: v1alpha1\nmachine: {network: {hostname: b}, certSANs: [c]}");
  ExpectError(Apply("machine: {}\n---\n{apiVersion: v1alpha1, kind: HostnameConfig, auto: stable}",
                    {"[{op: add, path: /machine/certSANs, value: [c]}]"}),
              "JSON6902 patches are not supported for multi-document machine configuration");
  ExpectError(Apply("version: v1alpha1\nmachine: {}", {"[{op: remove, path: /machine}, {op: remove, path: /version}]"}),
              "after the JSON6902 patch");
}

TEST(install_strategic_merge, PatchDocumentsMustBeTalosDocuments) {
  // A JSON6902 operation written as a map is not taken for a v1alpha1 document.
  ExpectError(Apply("machine: {}", {"{op: add, path: /machine/certSANs, value: [a]}"}), "JSON6902 operation");
  ExpectError(Apply("machine: {}", {"{foo: bar}"}), "missing kind");
  ExpectError(Apply("machine: {}", {"{machine: {}, network: {}}"}), "unknown key 'network'");
  // (Without other content, {kind, name} is no document at all for Talos: skipped.)
  ExpectError(Apply("machine: {}", {"{kind: LinkConfig, name: eth0, mtu: 1}"}), "missing apiVersion");
  ExpectError(Apply("machine: {}", {"x"}), "a patch is a map");
}

}  // namespace
}  // namespace metalpxe
