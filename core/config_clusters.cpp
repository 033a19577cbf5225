#include "core/config_clusters.h"

#include <algorithm>
#include <vector>

#include "core/config_paths.h"
#include "core/x509_pem.h"

namespace metalpxe {
namespace {

// What a base config says about the cluster it belongs to.
struct BaseConfigFacts {
  std::vector<std::string> ca_der;  // machine.ca.crt, decoded
  std::string endpoint;             // cluster.controlPlane.endpoint
};

// Splits at "---" lines: yaml-cpp 0.7's LoadAll can loop forever on
// malformed input, Load per document cannot.
std::vector<std::string> SplitYamlDocuments(const std::string& text) {
  std::vector<std::string> docs(1);
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + pos, end - pos);
    if (line.starts_with("---") && (line.size() == 3 || line[3] == ' ' || line[3] == '\r'))
      docs.emplace_back();
    else
      docs.back().append(line).push_back('\n');
    pos = end + 1;
  }
  return docs;
}

// Reads the v1alpha1 document (the one with `machine:`) of a base config.
// Problems go to `at` (the metalpxe.yaml key naming the file) as `field`.
std::optional<BaseConfigFacts> ReadBaseConfig(ProblemSink& sink, const YAML::Node& at, const std::string& field,
                                              const std::string& path) {
  std::string text, error;
  if (!ReadWholeFile(path, &text, &error)) {
    sink.Add(at, field + ": " + path + " " + error);
    return std::nullopt;
  }
  std::vector<std::string> docs = SplitYamlDocuments(text);
  for (std::size_t i = 0; i < docs.size(); ++i) {
    YAML::Node doc;
    try {
      doc = YAML::Load(docs[i]);
    } catch (const YAML::Exception& e) {
      sink.Add(at, field + ": " + path + " is not YAML (document " + std::to_string(i + 1) + ", line " +
                       std::to_string(e.mark.line + 1) + "): " + e.msg);
      return std::nullopt;
    }
    if (!doc.IsMap() || !doc["machine"].IsMap()) continue;
    BaseConfigFacts facts;
    const YAML::Node crt = doc["machine"]["ca"].IsMap() ? doc["machine"]["ca"]["crt"] : YAML::Node();
    auto pem = crt.IsScalar() ? DecodeBase64(crt.Scalar()) : Result<std::string>(ErrorCode::kNotFound, "");
    auto der = pem ? CertificatesDer(*pem) : Result<std::vector<std::string>>(pem.status());
    if (!der) {
      sink.Add(at, field + ": " + path + " has no machine.ca.crt (base64 PEM) to check against the talosconfig's CA" +
                       (pem.status().message().empty() ? "" : ": " + pem.status().message()));
      return std::nullopt;
    }
    facts.ca_der = std::move(*der);
    const YAML::Node cluster = doc["cluster"];
    if (cluster.IsMap() && cluster["controlPlane"].IsMap() && cluster["controlPlane"]["endpoint"].IsScalar())
      facts.endpoint = cluster["controlPlane"]["endpoint"].Scalar();
    return facts;
  }
  sink.Add(at, field + ": " + path + " has no machine config document (no `machine:` section)");
  return std::nullopt;
}

// https://HOST:PORT or https://HOST (a trailing '/' allowed), as
// talosctl gen config takes the cluster endpoint.
bool IsHttpsEndpoint(std::string url) {
  constexpr std::string_view kScheme = "https://";
  if (!url.starts_with(kScheme)) return false;
  url.erase(0, kScheme.size());
  if (!url.empty() && url.back() == '/') url.pop_back();
  if (url.empty() || url.find_first_of(" /?#@") != std::string::npos) return false;
  const auto bracket = url.rfind(']');
  const auto colon = url.rfind(':');
  if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket)) return true;
  const std::string port = url.substr(colon + 1);
  if (colon == 0 || port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return false;
  return std::stoi(port) >= 1 && std::stoi(port) <= 65535;
}

void ReadTalosconfig(MapReader& r, const std::string& base_dir, ClusterConfig& c) {
  auto path = r.String("talosconfig", true);
  if (!path) return;
  c.talosconfig_file = ResolvePath(*path, base_dir);
  std::string text, error;
  if (!ReadWholeFile(c.talosconfig_file, &text, &error)) {
    r.sink().Add(r.Raw("talosconfig"), r.Field("talosconfig") + ": " + c.talosconfig_file + " " + error);
    return;
  }
  TalosconfigParse parsed = ParseTalosconfig(text, c.talosconfig_file);
  std::fill(text.begin(), text.end(), '\0');
  if (!parsed.credentials) {
    for (auto& p : parsed.problems) r.sink().AddProblem(std::move(p));
    return;
  }
  c.talos = std::move(*parsed.credentials);
  if (!c.talos.HasRole(kTalosRoleAdmin)) {
    std::string roles;
    for (const auto& role : c.talos.roles) roles += (roles.empty() ? "" : ", ") + role;
    r.sink().Add(r.Raw("talosconfig"), r.Field("talosconfig") + ": the client certificate of context '" +
                                           c.talos.context + "' has role " + (roles.empty() ? "(none)" : roles) +
                                           "; metalpxe needs os:admin (Bootstrap, Kubeconfig and Upgrade are "
                                           "admin-only in Talos)");
  }
}

// Both base configs, and that they belong to the talosconfig's cluster.
void ReadBaseConfigs(MapReader& r, const std::string& base_dir, ClusterConfig& c, bool talosconfig_ok) {
  MapReader configs(r.sink(), r.Raw("configs"), r.Field("configs"));
  if (!configs.is_map()) {
    if (!r.Has("configs"))
      r.sink().Add(r.node(), r.Field("configs") + " is required (controlplane and worker from talosctl gen config)");
    return;
  }
  std::vector<std::string> talos_ca;
  if (talosconfig_ok) talos_ca = CertificatesDer(c.talos.ca_pem).value();
  std::string base_endpoint;
  const std::pair<const char*, Role> roles[] = {{"controlplane", Role::kControlPlane}, {"worker", Role::kWorker}};
  for (const auto& [key, role] : roles) {
    auto path = configs.String(key, true);
    if (!path) continue;
    const std::string resolved = ResolvePath(*path, base_dir);
    c.configs[role] = resolved;
    auto facts = ReadBaseConfig(r.sink(), configs.Raw(key), configs.Field(key), resolved);
    if (!facts) continue;
    if (talosconfig_ok && std::find(talos_ca.begin(), talos_ca.end(), facts->ca_der.front()) == talos_ca.end())
      r.sink().Add(configs.Raw(key), configs.Field(key) + ": machine.ca.crt of " + resolved +
                                         " is not the CA of talosconfig " + c.talosconfig_file + " (context '" +
                                         c.talos.context + "'): they come from different talosctl gen config runs");
    if (role == Role::kControlPlane) base_endpoint = facts->endpoint;
  }
  configs.RejectUnknownKeys();
  if (c.endpoint.empty()) {
    c.endpoint = base_endpoint;
  } else if (!base_endpoint.empty() && base_endpoint != c.endpoint) {
    r.sink().Add(r.Raw("endpoint"), r.Field("endpoint") + ": " + c.endpoint +
                                        " is not the controlplane base config's cluster.controlPlane.endpoint (" +
                                        base_endpoint + ")");
  }
}

void ReadCluster(MapReader r, const std::string& base_dir, ClusterConfig& c) {
  if (auto v = r.String("endpoint")) {
    if (!IsHttpsEndpoint(*v))
      r.sink().Add(r.Raw("endpoint"), r.Field("endpoint") + ": '" + *v +
                                          "' is not a Kubernetes API endpoint like https://10.66.0.10:6443");
    else
      c.endpoint = *v;
  }
  if (auto v = r.Enum<BootstrapMode>("bootstrap", {{"auto", BootstrapMode::kAuto}, {"manual", BootstrapMode::kManual}}))
    c.bootstrap = *v;
  const std::size_t before = r.sink().count();
  ReadTalosconfig(r, base_dir, c);
  ReadBaseConfigs(r, base_dir, c, r.sink().count() == before && !c.talos.ca_pem.empty());
  r.RejectUnknownKeys();
}

std::optional<ConfigDelivery> ReadConfigDelivery(MapReader& r) {
  return r.Enum<ConfigDelivery>("configDelivery", {{"url", ConfigDelivery::kUrl}, {"apply", ConfigDelivery::kApply}});
}

}  // namespace

void ReadClusters(ProblemSink& sink, const YAML::Node& clusters, const std::string& base_dir, AppConfig& cfg) {
  if (!clusters.IsDefined() || clusters.IsNull()) return;
  if (!clusters.IsMap()) {
    sink.Add(clusters, "clusters must be a map of cluster name to cluster, not " + DescribeYamlType(clusters));
    return;
  }
  for (const auto& kv : clusters) {
    ClusterConfig c;
    c.name = kv.first.Scalar();
    ReadCluster(MapReader(sink, kv.second, "clusters." + c.name), base_dir, c);
    cfg.clusters[c.name] = std::move(c);
  }
}

void ReadProfileClusterKeys(MapReader& r, ProfileConfig& p) { p.config_delivery = ReadConfigDelivery(r); }

void ReadMachineClusterKeys(MapReader& r, const AppConfig& cfg, MachineConfig& m) {
  if (auto v = r.String("cluster")) {
    m.cluster = *v;
    if (!cfg.clusters.count(*v))
      r.sink().Add(r.Raw("cluster"), r.Field("cluster") + ": cluster '" + *v + "' is not defined under clusters");
  }
  m.config_delivery = ReadConfigDelivery(r);
  if (m.cluster.empty()) {
    auto profile = cfg.profiles.find(m.profile);
    if (profile != cfg.profiles.end() && profile->second.configs.empty())
      r.sink().Add(r.node(), r.what() + " names no cluster and its profile '" + m.profile +
                                 "' has no configs: give it a cluster");
  }
}

const ClusterConfig* ClusterOf(const AppConfig& cfg, const MachineConfig& m) {
  if (m.cluster.empty()) return nullptr;
  auto it = cfg.clusters.find(m.cluster);
  return it == cfg.clusters.end() ? nullptr : &it->second;
}

std::optional<std::string> BaseConfigPathFor(const AppConfig& cfg, const MachineConfig& m) {
  const std::map<Role, std::string>* configs = nullptr;
  if (const ClusterConfig* c = ClusterOf(cfg, m)) {
    configs = &c->configs;
  } else if (auto p = cfg.profiles.find(m.profile); p != cfg.profiles.end()) {
    configs = &p->second.configs;
  }
  if (!configs) return std::nullopt;
  auto it = configs->find(m.role);
  if (it == configs->end()) return std::nullopt;
  return it->second;
}

ConfigDelivery ConfigDeliveryFor(const AppConfig& cfg, const MachineConfig& m) {
  if (m.config_delivery) return *m.config_delivery;
  if (auto p = cfg.profiles.find(m.profile); p != cfg.profiles.end() && p->second.config_delivery)
    return *p->second.config_delivery;
  return ConfigDelivery::kUrl;
}

}  // namespace metalpxe
