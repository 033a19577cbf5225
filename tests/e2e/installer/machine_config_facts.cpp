#include "tests/e2e/installer/machine_config_facts.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>

namespace metalpxe::standin {
namespace {

std::string Scalar(const YAML::Node& n) { return n && n.IsScalar() ? n.Scalar() : std::string(); }

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// base64 PEM as Talos stores it; "" for an empty or undecodable field.
std::string DecodePem(const YAML::Node& n) {
  std::string text = Scalar(n);
  text.erase(std::remove_if(text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }), text.end());
  if (text.empty() || text.size() % 4 != 0) return "";
  std::string out(text.size() / 4 * 3, '\0');
  const int n_out = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                    reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n_out < 0) return "";
  out.resize(static_cast<std::size_t>(n_out));
  while (!out.empty() && out.back() == '\0') out.pop_back();  // EVP_DecodeBlock's padding bytes
  return out;
}

std::vector<YAML::Node> Documents(std::string_view yaml) {
  std::vector<YAML::Node> docs;
  std::string current;
  std::size_t pos = 0;
  auto flush = [&] {
    docs.push_back(YAML::Load(current));
    current.clear();
  };
  while (pos <= yaml.size()) {
    std::size_t end = yaml.find('\n', pos);
    if (end == std::string_view::npos) end = yaml.size();
    std::string_view line = yaml.substr(pos, end - pos);
    if (line.starts_with("---") && (line.size() == 3 || line[3] == ' ' || line[3] == '\r'))
      flush();
    else
      current.append(line).push_back('\n');
    pos = end + 1;
  }
  flush();
  return docs;
}

// v1alpha1 machine.network.interfaces: the entry for this NIC.
std::optional<StaticAddress> FromInterfaces(const YAML::Node& interfaces, std::string_view iface, std::string_view mac) {
  if (!interfaces || !interfaces.IsSequence()) return std::nullopt;
  for (const auto& dev : interfaces) {
    if (!dev.IsMap()) continue;
    const bool by_name = Scalar(dev["interface"]) == iface;
    const YAML::Node sel = dev["deviceSelector"];
    const bool by_mac = sel && sel.IsMap() && Lower(Scalar(sel["hardwareAddr"])) == Lower(std::string(mac));
    if (!by_name && !by_mac) continue;
    const YAML::Node addrs = dev["addresses"];
    if (!addrs || !addrs.IsSequence() || addrs.size() == 0) continue;
    StaticAddress a{Scalar(addrs[0]), ""};
    if (dev["routes"] && dev["routes"].IsSequence())
      for (const auto& r : dev["routes"])
        if (r.IsMap() && Scalar(r["network"]) == "0.0.0.0/0") a.gateway = Scalar(r["gateway"]);
    return a;
  }
  return std::nullopt;
}

// 1.12+ LinkConfig named after the interface.
std::optional<StaticAddress> FromLinkConfig(const YAML::Node& doc, std::string_view iface) {
  if (Scalar(doc["kind"]) != "LinkConfig" || Scalar(doc["name"]) != iface) return std::nullopt;
  const YAML::Node addrs = doc["addresses"];
  if (!addrs || !addrs.IsSequence() || addrs.size() == 0 || !addrs[0].IsMap()) return std::nullopt;
  StaticAddress a{Scalar(addrs[0]["address"]), ""};
  if (doc["routes"] && doc["routes"].IsSequence())
    for (const auto& r : doc["routes"]) {
      const std::string dest = r.IsMap() ? Scalar(r["destination"]) : "";
      if (r.IsMap() && (dest.empty() || dest == "0.0.0.0/0")) a.gateway = Scalar(r["gateway"]);
    }
  return a;
}

void ReadMachineDocument(const YAML::Node& doc, std::string_view iface, std::string_view mac, MachineConfigFacts& f) {
  const YAML::Node machine = doc["machine"];
  f.role = Scalar(machine["type"]);
  f.machine_token = Scalar(machine["token"]);
  if (machine["install"] && machine["install"].IsMap()) f.install_disk = Scalar(machine["install"]["disk"]);
  if (machine["network"] && machine["network"].IsMap()) {
    if (f.hostname.empty()) f.hostname = Scalar(machine["network"]["hostname"]);
    if (!f.address) f.address = FromInterfaces(machine["network"]["interfaces"], iface, mac);
  }
  if (machine["ca"] && machine["ca"].IsMap()) {
    f.machine_ca_crt = DecodePem(machine["ca"]["crt"]);
    f.machine_ca_key = DecodePem(machine["ca"]["key"]);
  }
  const YAML::Node cluster = doc["cluster"];
  if (cluster && cluster.IsMap()) {
    if (cluster["ca"] && cluster["ca"].IsMap()) {
      f.cluster_ca_crt = DecodePem(cluster["ca"]["crt"]);
      f.cluster_ca_key = DecodePem(cluster["ca"]["key"]);
    }
    if (cluster["controlPlane"] && cluster["controlPlane"].IsMap())
      f.endpoint = Scalar(cluster["controlPlane"]["endpoint"]);
    f.cluster_name = Scalar(cluster["clusterName"]);
  }
}

}  // namespace

Result<MachineConfigFacts> FactsFromTalosConfig(std::string_view yaml, std::string_view iface, std::string_view mac) {
  MachineConfigFacts f;
  bool have_machine = false;
  try {
    for (const YAML::Node& doc : Documents(yaml)) {
      if (!doc.IsMap()) continue;
      if (doc["machine"] && doc["machine"].IsMap()) {
        ReadMachineDocument(doc, iface, mac, f);
        have_machine = true;
      } else if (Scalar(doc["kind"]) == "HostnameConfig" && !Scalar(doc["hostname"]).empty()) {
        f.hostname = Scalar(doc["hostname"]);  // the 1.12+ document wins over machine.network.hostname
      } else if (auto a = FromLinkConfig(doc, iface)) {
        f.address = a;
      }
    }
  } catch (const YAML::Exception& e) {
    return Status(ErrorCode::kInvalidArgument, std::string("config is not YAML: ") + e.what());
  }
  if (!have_machine) return Status(ErrorCode::kInvalidArgument, "config has no machine section");
  if (f.role.empty()) return Status(ErrorCode::kInvalidArgument, "config has no machine.type");
  return f;
}

}  // namespace metalpxe::standin
