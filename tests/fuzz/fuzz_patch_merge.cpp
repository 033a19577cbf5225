// libFuzzer: random YAML patch documents merged over a fixed v1alpha1 base
// must never crash, and the writer's output must read back to the merged tree.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/install/strategic_merge.h"
#include "core/install/yaml_tree.h"
#include "core/install/yaml_writer.h"

namespace {

constexpr std::string_view kBase = R"(version: v1alpha1
machine:
  type: controlplane
  token: abc.def
  certSANs: []
  install: {disk: /dev/sda, wipe: false}
  network:
    interfaces:
      - interface: eth0
        vlans: [{vlanId: 10, mtu: 1500}]
      - deviceSelector: {hardwareAddr: "52:54:00:12:34:56"}
        dhcp: false
  nodeLabels: {a: ""}
cluster:
  network: {podSubnets: [10.244.0.0/16], serviceSubnets: [10.96.0.0/12]}
  apiServer:
    admissionControl: [{name: PodSecurity, configuration: {kind: PodSecurityConfiguration}}]
    auditPolicy: {kind: Policy}
  inlineManifests:
    - name: app
      contents: |
        kind: Application
        spec: {}
)";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace metalpxe;
  static const YamlValue base = (*ParseYamlDocuments(kBase, "base"))[0];
  auto patches = ParseYamlDocuments(std::string_view(reinterpret_cast<const char*>(data), size), "patch");
  if (!patches.ok()) return 0;
  YamlValue doc = base;
  for (auto& patch : *patches) {
    for (MergeRules rules : {MergeRules::kV1Alpha1, MergeRules::kGeneric}) {
      (void)ApplyStrategicPatch(doc, patch, "fuzz", rules);
    }
  }
  const std::string written = WriteYaml(doc);
  auto back = ParseYamlDocuments(written, "written");
  if (!back.ok() || back->size() != 1 || !SemanticallyEqual((*back)[0], doc)) __builtin_trap();
  return 0;
}
