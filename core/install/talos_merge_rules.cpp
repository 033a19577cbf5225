#include "core/install/talos_merge_rules.h"

#include <algorithm>
#include <iterator>

namespace metalpxe {
namespace {

struct Rule {
  std::string_view kind;  // "v1alpha1" for the legacy document
  std::string_view path;
  FieldRule rule;
};

constexpr FieldRule kReplace{FieldMerge::kReplace, {}, false};
constexpr FieldRule kArgs{FieldMerge::kArgs, {}, false};

// Every kind Talos gives a rule; the source of each in the comment.
constexpr Rule kRules[] = {
    // v1alpha1_types.go: `merge:"replace"`.
    {"v1alpha1", "cluster.network.podSubnets", kReplace},
    {"v1alpha1", "cluster.network.serviceSubnets", kReplace},
    {"v1alpha1", "cluster.apiServer.auditPolicy", kReplace},
    // NetworkDeviceList.Merge, VlanList.Merge, AdmissionPluginConfigList.Merge.
    {"v1alpha1", "machine.network.interfaces", {FieldMerge::kNetworkDevices, {}, false}},
    {"v1alpha1", "machine.network.interfaces[].vlans", {FieldMerge::kKeyedList, "vlanId", true}},
    {"v1alpha1", "cluster.apiServer.admissionControl", {FieldMerge::kKeyedList, "name", false}},
    // meta.Args fields.
    {"v1alpha1", "machine.kubelet.extraArgs", kArgs},
    {"v1alpha1", "cluster.apiServer.extraArgs", kArgs},
    {"v1alpha1", "cluster.controllerManager.extraArgs", kArgs},
    {"v1alpha1", "cluster.proxy.extraArgs", kArgs},
    {"v1alpha1", "cluster.scheduler.extraArgs", kArgs},
    {"v1alpha1", "cluster.etcd.extraArgs", kArgs},
    // runtime/extensions/service_config.go: ConfigFileList.Merge by mountPath.
    {"ExtensionServiceConfig", "configFiles", {FieldMerge::kKeyedList, "mountPath", false}},
    // security/image_verification.go: ImageVerificationRules.Merge replaces by image.
    {"ImageVerificationConfig", "rules", {FieldMerge::kKeyedReplace, "image", false}},
    // `merge:"replace"` in the multi-document kinds.
    {"CRIBaseRuntimeSpecConfig", "overrides", kReplace},
    {"KubeAuditPolicyConfig", "configuration", kReplace},
    {"KubeAuthenticationConfig", "configuration", kReplace},
    {"KubeCredentialProviderConfig", "configuration", kReplace},
    {"KubeNetworkConfig", "podSubnets", kReplace},
    {"KubeNetworkConfig", "serviceSubnets", kReplace},
    {"KubeStaticPodConfig", "pod", kReplace},
    {"BGPInstanceConfig", "advertise", kReplace},
    {"BGPInstanceConfig", "importRoutes", kReplace},
    {"BGPInstanceConfig", "neighbors", kReplace},
    {"NetworkRuleConfig", "ingress", kReplace},
    {"NetworkRuleConfig", "portSelector.ports", kReplace},
    // k8s/*.go: meta.Args.
    {"KubeAPIServerConfig", "extraArgs", kArgs},
    {"KubeControllerManagerConfig", "extraArgs", kArgs},
    {"KubeletConfig", "extraArgs", kArgs},
    {"KubeProxyConfig", "extraArgs", kArgs},
    {"KubeSchedulerConfig", "extraArgs", kArgs},
};

struct FreeMap {
  std::string_view kind;
  std::string_view path;
};

// Go map[string]..., meta.Args and meta.Unstructured fields.
constexpr FreeMap kFreeMaps[] = {
    {"v1alpha1", "machine.env"},
    {"v1alpha1", "machine.sysctls"},
    {"v1alpha1", "machine.sysfs"},
    {"v1alpha1", "machine.baseRuntimeSpecOverrides"},
    {"v1alpha1", "machine.nodeLabels"},
    {"v1alpha1", "machine.nodeAnnotations"},
    {"v1alpha1", "machine.nodeTaints"},
    {"v1alpha1", "machine.seccompProfiles[].value"},
    {"v1alpha1", "machine.kubelet.extraArgs"},
    {"v1alpha1", "machine.kubelet.extraConfig"},
    {"v1alpha1", "machine.kubelet.credentialProviderConfig"},
    {"v1alpha1", "machine.registries.mirrors"},
    {"v1alpha1", "machine.registries.config"},
    {"v1alpha1", "machine.logging.destinations[].extraTags"},
    {"v1alpha1", "cluster.extraManifestHeaders"},
    {"v1alpha1", "cluster.apiServer.extraArgs"},
    {"v1alpha1", "cluster.apiServer.env"},
    {"v1alpha1", "cluster.apiServer.auditPolicy"},
    {"v1alpha1", "cluster.apiServer.resources.requests"},
    {"v1alpha1", "cluster.apiServer.resources.limits"},
    {"v1alpha1", "cluster.apiServer.admissionControl[].configuration"},
    {"v1alpha1", "cluster.apiServer.authorizationConfig[].webhook"},
    {"v1alpha1", "cluster.controllerManager.extraArgs"},
    {"v1alpha1", "cluster.controllerManager.env"},
    {"v1alpha1", "cluster.controllerManager.resources.requests"},
    {"v1alpha1", "cluster.controllerManager.resources.limits"},
    {"v1alpha1", "cluster.proxy.extraArgs"},
    {"v1alpha1", "cluster.scheduler.extraArgs"},
    {"v1alpha1", "cluster.scheduler.env"},
    {"v1alpha1", "cluster.scheduler.config"},
    {"v1alpha1", "cluster.scheduler.resources.requests"},
    {"v1alpha1", "cluster.scheduler.resources.limits"},
    {"v1alpha1", "cluster.etcd.extraArgs"},
    {"CRIBaseRuntimeSpecConfig", "overrides"},
    {"EnvironmentConfig", "variables"},
    {"EthernetConfig", "features"},
    {"KubeAdmissionControlConfig", "configuration"},
    {"KubeAPIServerConfig", "extraArgs"},
    {"KubeAPIServerConfig", "env"},
    {"KubeAPIServerConfig", "resources.requests"},
    {"KubeAPIServerConfig", "resources.limits"},
    {"KubeAuditPolicyConfig", "configuration"},
    {"KubeAuthenticationConfig", "configuration"},
    {"KubeAuthorizerConfig", "webhook"},
    {"KubeControllerManagerConfig", "extraArgs"},
    {"KubeControllerManagerConfig", "env"},
    {"KubeControllerManagerConfig", "resources.requests"},
    {"KubeControllerManagerConfig", "resources.limits"},
    {"KubeCredentialProviderConfig", "configuration"},
    {"KubeEtcdEncryptionConfig", "config"},
    {"KubeExternalManifestConfig", "headers"},
    {"KubeFlannelCNIConfig", "backendExtraConfig"},
    {"KubeFlannelCNIConfig", "resources.requests"},
    {"KubeFlannelCNIConfig", "resources.limits"},
    {"KubeletConfig", "config"},
    {"KubeletConfig", "extraArgs"},
    {"KubeNodeConfig", "labels"},
    {"KubeNodeConfig", "annotations"},
    {"KubeNodeConfig", "taints"},
    {"KubeProxyConfig", "config"},
    {"KubeProxyConfig", "extraArgs"},
    {"KubeProxyConfig", "resources.requests"},
    {"KubeProxyConfig", "resources.limits"},
    {"KubeSchedulerConfig", "config"},
    {"KubeSchedulerConfig", "extraArgs"},
    {"KubeSchedulerConfig", "env"},
    {"KubeSchedulerConfig", "resources.requests"},
    {"KubeSchedulerConfig", "resources.limits"},
    {"KubeStaticPodConfig", "pod"},
    {"SysctlConfig", "params"},
    {"SysfsConfig", "params"},
};

// The legacy document has no apiVersion; every multi-document kind so far is
// v1alpha1 (a kind at another apiVersion gets no rules: nothing to go on).
bool KindMatches(std::string_view api_version, std::string_view kind, std::string_view rule_kind) {
  if (rule_kind == "v1alpha1") return kind == "v1alpha1" && api_version.empty();
  return kind == rule_kind && api_version == "v1alpha1";
}

}  // namespace

FieldRule MergeRuleAt(std::string_view api_version, std::string_view kind, std::string_view path) {
  const auto it = std::find_if(std::begin(kRules), std::end(kRules), [&](const Rule& r) {
    return r.path == path && KindMatches(api_version, kind, r.kind);
  });
  return it == std::end(kRules) ? FieldRule{} : it->rule;
}

bool IsFreeFormMap(std::string_view api_version, std::string_view kind, std::string_view path) {
  return std::any_of(std::begin(kFreeMaps), std::end(kFreeMaps), [&](const FreeMap& m) {
    if (!KindMatches(api_version, kind, m.kind) || !path.starts_with(m.path)) return false;
    const std::string_view rest = path.substr(m.path.size());
    return rest.empty() || rest.front() == '.' || rest.starts_with("[]");
  });
}

}  // namespace metalpxe
