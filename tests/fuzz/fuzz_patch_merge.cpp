// libFuzzer: random patch files (read as talosctl reads them: strategic merge
// documents or a JSON6902 operation list) applied to a fixed multi-document
// config and to its single-document v1alpha1 part must never crash; every
// document metalpxe would serve must still be a Talos document, and the
// writer's output must read back to the same trees. The input is also read
// as a Talos version (talos_config_shape.h).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/install/strategic_merge.h"
#include "core/install/talos_config_shape.h"
#include "core/install/talos_patch.h"
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
  kubelet: {extraArgs: {a: [x]}}
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
---
apiVersion: v1alpha1
kind: ExtensionServiceConfig
name: foo
configFiles: [{content: hello, mountPath: /etc/foo}]
---
apiVersion: v1alpha1
kind: LinkConfig
name: eth0
addresses: [{address: 10.0.0.2/24}]
---
apiVersion: v1alpha1
kind: HostnameConfig
auto: stable
)";

void ApplyAndCheck(std::vector<metalpxe::YamlValue> config, const metalpxe::TalosPatch& patch) {
  using namespace metalpxe;
  std::size_t failed = 0;
  if (!ApplyTalosPatch(config, patch, "fuzz", &failed).ok()) return;
  // What a successful patch leaves is still a set of Talos documents.
  if (!CheckConfigDocuments(config, "patched").ok()) __builtin_trap();
  const std::string written = WriteYamlDocuments(config);
  auto back = ParseYamlDocuments(written, "written");
  if (!back.ok() || back->size() != config.size()) __builtin_trap();
  for (std::size_t i = 0; i < config.size(); ++i) {
    if (!SemanticallyEqual((*back)[i], config[i])) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace metalpxe;
  static const std::vector<YamlValue> base = *ParseYamlDocuments(kBase, "base");
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // The input as a profile's talosVersion, with the base config.
  (void)ReleaseForConfig(text, base);
  auto patch = PatchFromText(text, "patch");
  if (!patch.ok()) return 0;
  ApplyAndCheck(base, *patch);
  ApplyAndCheck({base.front()}, *patch);
  return 0;
}
