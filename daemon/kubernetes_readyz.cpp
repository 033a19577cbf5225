#include "daemon/kubernetes_readyz.h"

#include <filesystem>
#include <fstream>

#include <yaml-cpp/yaml.h>

#include "core/x509_pem.h"
#include "ipmi/http_client.h"

namespace metalpxe {

Result<std::string> KubernetesCaOf(const std::string& path) {
  try {
    const YAML::Node root = YAML::LoadFile(path);
    const YAML::Node crt = root["cluster"]["ca"]["crt"];
    if (!crt || !crt.IsScalar()) return Status(ErrorCode::kNotFound, path + " has no cluster.ca.crt");
    auto pem = DecodeBase64(crt.as<std::string>());
    if (!pem.ok()) return Status(ErrorCode::kInvalidArgument, path + ": cluster.ca.crt is not base64");
    return *pem;
  } catch (const YAML::Exception& e) {
    return Status(ErrorCode::kInvalidArgument, path + ": " + e.what());
  }
}

ReadyzAnswer ProbeKubernetesReadyz(const ClusterConfig& cluster, const std::string& state_dir,
                                   std::chrono::milliseconds timeout) {
  ReadyzAnswer out;
  if (cluster.endpoint.empty()) {
    out.detail = "no Kubernetes endpoint configured";
    return out;
  }
  auto base = cluster.configs.find(Role::kControlPlane);
  if (base == cluster.configs.end()) {
    out.detail = "no controlplane config to take the Kubernetes CA from";
    return out;
  }
  auto ca = KubernetesCaOf(base->second);
  if (!ca.ok()) {
    out.detail = ca.status().message();
    return out;
  }
  const auto dir = std::filesystem::path(state_dir) / "clusters" / cluster.name;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const auto ca_file = (dir / "kubernetes-ca.crt").string();
  {
    std::ofstream f(ca_file, std::ios::trunc);
    f << *ca;
    if (!f) {
      out.detail = "cannot write " + ca_file;
      return out;
    }
  }
  HttpClientOptions o;
  o.timeout = timeout;
  o.ca_file = ca_file;
  HttpClient client(o);
  HttpRequest req;
  std::string url = cluster.endpoint;
  while (!url.empty() && url.back() == '/') url.pop_back();
  req.url = url + "/readyz";
  auto r = client.Perform(req);
  if (!r.ok()) {
    out.detail = req.url + ": " + r.status().message();
    return out;
  }
  out.ready = r->status == 200;
  std::string body = r->body.substr(0, 200);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  out.detail = out.ready ? body : "HTTP " + std::to_string(r->status) + ": " + body;
  return out;
}

}  // namespace metalpxe
