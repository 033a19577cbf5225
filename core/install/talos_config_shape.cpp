#include "core/install/talos_config_shape.h"

#include <algorithm>
#include <charconv>
#include <iterator>

namespace metalpxe {
namespace {

struct KindRelease {
  std::string_view kind;
  int minor;
};

// Document kinds registered by Talos 1.12, 1.13 and 1.14 (and not before).
constexpr KindRelease kKinds[] = {
    {"BondConfig", 12}, {"BridgeConfig", 12}, {"DHCPv4Config", 12}, {"DHCPv6Config", 12},
    {"DummyLinkConfig", 12}, {"HCloudVIPConfig", 12}, {"HostnameConfig", 12}, {"Layer2VIPConfig", 12},
    {"LinkAliasConfig", 12}, {"LinkConfig", 12}, {"OOMConfig", 12}, {"RegistryAuthConfig", 12},
    {"RegistryMirrorConfig", 12}, {"RegistryTLSConfig", 12}, {"ResolverConfig", 12}, {"StaticHostConfig", 12},
    {"TimeSyncConfig", 12}, {"VLANConfig", 12}, {"WireguardConfig", 12},
    {"BlackholeRouteConfig", 13}, {"EnvironmentConfig", 13}, {"ExternalVolumeConfig", 13},
    {"ImageVerificationConfig", 13}, {"KubeSpanConfig", 13}, {"RoutingRuleConfig", 13}, {"TCPProbeConfig", 13},
    {"VRFConfig", 13},
    {"BGPInstanceConfig", 14}, {"CRIBaseRuntimeSpecConfig", 14}, {"CRICustomizationConfig", 14},
    {"ContainerConfig", 14}, {"DiscoveryIdentityConfig", 14}, {"DiscoveryServiceConfig", 14},
    {"EtcFileConfig", 14}, {"FilesystemScrubConfig", 14}, {"FilesystemTrimConfig", 14}, {"HTTPProbeConfig", 14},
    {"ImageCacheConfig", 14}, {"KernelModuleConfig", 14}, {"KubeAPIServerCAConfig", 14},
    {"KubeAPIServerConfig", 14}, {"KubeAdmissionControlConfig", 14}, {"KubeAggregatorCAConfig", 14},
    {"KubeAuditPolicyConfig", 14}, {"KubeAuthenticationConfig", 14}, {"KubeAuthorizerConfig", 14},
    {"KubeClusterConfig", 14}, {"KubeControllerManagerConfig", 14}, {"KubeCoreDNSConfig", 14},
    {"KubeCredentialProviderConfig", 14}, {"KubeEtcdEncryptionConfig", 14}, {"KubeExternalManifestConfig", 14},
    {"KubeFlannelCNIConfig", 14}, {"KubeInlineManifestConfig", 14}, {"KubeNetworkConfig", 14},
    {"KubeNodeConfig", 14}, {"KubePrismConfig", 14}, {"KubeProxyConfig", 14}, {"KubeSchedulerConfig", 14},
    {"KubeServiceAccountConfig", 14}, {"KubeStaticPodConfig", 14}, {"KubeTalosAPIAccessConfig", 14},
    {"KubeletConfig", 14}, {"LVMLogicalVolumeConfig", 14}, {"LVMVolumeGroupConfig", 14},
    {"RAIDArrayConfig", 14}, {"SecurityProfileConfig", 14}, {"SysctlConfig", 14}, {"SysfsConfig", 14},
    {"UdevRulesConfig", 14}, {"UnattendedInstallConfig", 14}, {"VethConfig", 14},
};

constexpr TalosRelease kCurrent{1, 14};
constexpr TalosRelease kBeforeDocuments{1, 11};

bool ParseInt(std::string_view s, int* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::optional<TalosRelease> ParseTalosRelease(std::string_view version) {
  if (version.starts_with('v')) version.remove_prefix(1);
  const std::size_t dot = version.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::string_view minor = version.substr(dot + 1);
  minor = minor.substr(0, std::min(minor.find('.'), minor.find('-')));
  TalosRelease r;
  if (!ParseInt(version.substr(0, dot), &r.major) || !ParseInt(minor, &r.minor)) return std::nullopt;
  return r;
}

std::optional<TalosRelease> KindIntroducedIn(std::string_view kind) {
  const auto it =
      std::find_if(std::begin(kKinds), std::end(kKinds), [&](const KindRelease& k) { return k.kind == kind; });
  if (it == std::end(kKinds)) return std::nullopt;
  return TalosRelease{1, it->minor};
}

TalosRelease ReleaseForConfig(std::string_view profile_version, const std::vector<YamlValue>& documents) {
  if (auto r = ParseTalosRelease(profile_version)) return *r;
  std::optional<TalosRelease> newest;
  bool v1alpha1 = false;
  for (const auto& doc : documents) {
    const YamlValue* kind = doc.is_map() ? doc.Find("kind") : nullptr;
    if (kind == nullptr || !kind->is_scalar()) {
      v1alpha1 |= doc.is_map();
      continue;
    }
    if (auto r = KindIntroducedIn(kind->text()); r && (!newest || *newest < *r)) newest = r;
  }
  if (newest) return *newest;
  return v1alpha1 ? kBeforeDocuments : kCurrent;
}

}  // namespace metalpxe
