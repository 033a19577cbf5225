#include "core/inventory_loader.h"

#include <openssl/crypto.h>

#include <cstdlib>
#include <map>

#include "core/config_clusters.h"
#include "core/config_paths.h"
#include "core/install/patch_problem_report.h"
#include "core/ssh_key_file.h"
#include "core/yaml_fields.h"

namespace metalpxe {
namespace {

// RFC 1123 host name label: what Talos accepts as machine.network.hostname.
bool IsHostnameLabel(const std::string& s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

std::string TrimTrailingNewlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// hetzner-robot only: the server number, the rescue SSH key (its MD5
// fingerprint is what Robot's authorized_key takes) and the install method.
void ReadRobotBmcKeys(MapReader& r, const std::string& base_dir, BmcConfig& b) {
  const bool robot = b.type == BmcType::kHetznerRobot;
  for (const char* key : {"sshKeyFile", "installMethod"})
    if (!robot && r.Has(key)) {
      r.Raw(key);
      r.sink().Add(r.KeyMark(key), r.Field(key) + ": only for type hetzner-robot, not " +
                                       std::string(BmcTypeName(b.type)));
    }
  if (!robot) return;
  if (!b.address.empty() && (b.address.size() > 10 || b.address.find_first_not_of("0123456789") != std::string::npos))
    r.sink().Add(r.Raw("address"), r.Field("address") + ": '" + b.address +
                                       "' is not a Robot server number (digits only, as Robot shows it, e.g. "
                                       "\"1234567\")");
  if (auto m = r.Enum<InstallMethod>("installMethod", {{"image", InstallMethod::kImage}, {"kexec", InstallMethod::kKexec}}))
    b.install_method = *m;
  const auto file = r.String("sshKeyFile");
  if (!file) {
    r.sink().Add(r.node(), r.what() + " needs sshKeyFile for type hetzner-robot (the private key whose public half "
                                      "is registered in Robot; the rescue system lets it in)");
    return;
  }
  b.ssh_key_file = ResolvePath(*file, base_dir);
  std::string text, error;
  if (!ReadWholeFile(b.ssh_key_file, &text, &error)) {
    r.sink().Add(r.Raw("sshKeyFile"), r.Field("sshKeyFile") + ": " + b.ssh_key_file + " " + error);
    return;
  }
  auto key = ParseOpenSshPrivateKey(text);
  OPENSSL_cleanse(text.data(), text.size());  // the private key stays in the file
  if (!key.ok()) {
    r.sink().Add(r.Raw("sshKeyFile"), r.Field("sshKeyFile") + ": " + b.ssh_key_file + " " + key.status().message());
    return;
  }
  b.ssh_key_fingerprint = key->md5_fingerprint;
}

void ReadBmc(MapReader r, const std::string& base_dir, BmcConfig& b) {
  if (auto t = r.Enum<BmcType>("type",
                               {{"ipmi", BmcType::kIpmi},
                                {"redfish", BmcType::kRedfish},
                                {"hetzner-robot", BmcType::kHetznerRobot},
                                {"wol", BmcType::kWol},
                                {"manual", BmcType::kManual}},
                               true))
    b.type = *t;
  const bool remote = b.type == BmcType::kIpmi || b.type == BmcType::kRedfish || b.type == BmcType::kHetznerRobot;
  if (auto v = r.String("address", remote)) b.address = *v;
  if (auto v = r.String("username", remote)) b.username = *v;
  if (auto v = r.Int("cipherSuite", 0, 17)) b.cipher_suite = static_cast<int>(*v);
  if (auto v = r.Int("workaroundFlags", 0, 0x7fffffff)) b.workaround_flags = static_cast<std::uint32_t>(*v);
  if (auto v = r.Bool("insecureSkipVerify")) b.insecure_tls = *v;
  ReadRobotBmcKeys(r, base_dir, b);

  // The password itself never sits in the inventory: inventories live in Git.
  if (r.Has("password")) {
    r.Raw("password");
    r.sink().Add(r.KeyMark("password"), r.Field("password") +
                                            ": passwords given inline are refused (the inventory is kept in Git); "
                                            "use passwordFile or passwordEnv");
  }
  const auto file = r.String("passwordFile");
  const auto env = r.String("passwordEnv");
  if (file && env) r.sink().Add(r.KeyMark("passwordEnv"), r.what() + ": give passwordFile or passwordEnv, not both");
  if (file) {
    const std::string path = ResolvePath(*file, base_dir);
    std::string text, error;
    if (!ReadWholeFile(path, &text, &error))
      r.sink().Add(r.Raw("passwordFile"), r.Field("passwordFile") + ": " + path + " " + error);
    else if (TrimTrailingNewlines(text).empty())
      r.sink().Add(r.Raw("passwordFile"), r.Field("passwordFile") + ": " + path + " is empty");
    else
      b.password = Secret(TrimTrailingNewlines(std::move(text)));
    b.password_source = "file " + path;
  } else if (env) {
    const char* value = std::getenv(env->c_str());
    if (!value || !*value)
      r.sink().Add(r.Raw("passwordEnv"), r.Field("passwordEnv") + ": environment variable " + *env + " is not set");
    else
      b.password = Secret(value);
    b.password_source = "env " + *env;
  } else if ((b.type == BmcType::kIpmi || b.type == BmcType::kRedfish || b.type == BmcType::kHetznerRobot) &&
             !r.Has("password")) {
    r.sink().Add(r.node(), r.what() + " needs passwordFile or passwordEnv for type " +
                               std::string(BmcTypeName(b.type)));
  }
  // IPMI 2.0 carries at most 20 password bytes (RAKP; Set User Password's
  // 20-byte form): a longer one could never open a session. Say so now, not
  // at the first power action. Only the length is told, never the bytes.
  constexpr std::size_t kIpmiMaxPasswordBytes = 20;
  if (b.type == BmcType::kIpmi && b.password.Reveal().size() > kIpmiMaxPasswordBytes) {
    const char* key = file ? "passwordFile" : "passwordEnv";
    r.sink().Add(r.Raw(key), r.Field(key) + ": the password (" + b.password_source + ") is " +
                                 std::to_string(b.password.Reveal().size()) + " bytes; IPMI 2.0 allows at most " +
                                 std::to_string(kIpmiMaxPasswordBytes));
  }
  r.RejectUnknownKeys();
}

// Reads machine i; returns false when it had problems (it is then left out
// of the duplicate checks, which would only repeat them).
bool ReadMachine(MapReader r, const std::string& base_dir, const AppConfig& cfg, MachineConfig& m,
                 std::vector<YAML::Node>& mac_nodes, BaseConfigCache* base_configs) {
  const std::size_t before = r.sink().count();
  if (auto v = r.String("name", true)) {
    m.name = *v;
    if (!IsHostnameLabel(*v))
      r.sink().Add(r.Raw("name"), r.Field("name") + ": '" + *v +
                                      "' is not a host name (lower-case letters, digits and '-', at most 63)");
  }
  YAML::Node macs = r.Raw("macs");
  if (!macs.IsDefined() || macs.IsNull()) {
    r.sink().Add(r.node(), r.Field("macs") + " is required (one or more MAC addresses)");
  } else if (!macs.IsSequence() || macs.size() == 0) {
    r.sink().Add(macs, r.Field("macs") + " must be a non-empty list of MAC addresses");
  } else {
    for (std::size_t i = 0; i < macs.size(); ++i) {
      auto mac = macs[i].IsScalar() ? MacAddress::Parse(macs[i].Scalar()) : std::nullopt;
      if (!mac) {
        r.sink().Add(macs[i], r.Field("macs") + "[" + std::to_string(i) + "]: '" +
                                  (macs[i].IsScalar() ? macs[i].Scalar() : DescribeYamlType(macs[i])) +
                                  "' is not a MAC address like 52:54:00:12:34:56");
        continue;
      }
      m.macs.push_back(*mac);
      mac_nodes.push_back(macs[i]);
    }
  }
  if (auto v = r.Enum<Role>("role", {{"controlplane", Role::kControlPlane}, {"worker", Role::kWorker}}, true))
    m.role = *v;
  m.profile = r.String("profile").value_or(cfg.boot.default_profile);
  if (r.Has("profile") && !cfg.profiles.count(m.profile))
    r.sink().Add(r.Raw("profile"), r.Field("profile") + ": profile '" + m.profile + "' is not defined");
  if (auto v = r.String("installDisk")) {
    if (v->empty() || (*v)[0] != '/')
      r.sink().Add(r.Raw("installDisk"), r.Field("installDisk") + ": '" + *v + "' is not a device path like /dev/sda");
    m.install_disk = *v;
  }
  if (auto v = r.String("ip")) {
    auto a = Ipv4Address::Parse(*v);
    if (!a) {
      r.sink().Add(r.Raw("ip"), r.Field("ip") + ": '" + *v + "' is not an IPv4 address");
    } else {
      m.ip = *a;
      if (cfg.dhcp.mode == DhcpMode::kFull) {
        bool inside = false;
        for (const auto& s : cfg.dhcp.subnets) inside |= s.subnet.Contains(*a) && *a != s.subnet.network &&
                                                         *a != s.subnet.Broadcast();
        if (!inside)
          r.sink().Add(r.Raw("ip"), r.Field("ip") + ": " + *v + " is not a host address of any dhcp.subnets entry");
      }
    }
  }
  if (auto v = r.Enum<BootFromDisk>(
          "bootFromDisk",
          {{"exit", BootFromDisk::kExit}, {"sanboot", BootFromDisk::kSanboot}, {"http-404", BootFromDisk::kHttp404}}))
    m.boot_from_disk = *v;
  if (auto v = r.KernelArgs("kernelArgs")) m.kernel_args = *v;
  YAML::Node patches = r.Raw("patches");
  if (patches.IsDefined() && !patches.IsNull()) {
    if (!patches.IsSequence()) {
      r.sink().Add(patches, r.Field("patches") + " must be a list of Talos config patches, not " +
                                DescribeYamlType(patches));
    } else {
      for (std::size_t i = 0; i < patches.size(); ++i) {
        if (!patches[i].IsMap() && !patches[i].IsSequence())
          r.sink().Add(patches[i], r.Field("patches") + "[" + std::to_string(i) +
                                       "] must be a Talos config patch: a map (strategic merge) or a list of "
                                       "JSON6902 operations, not " + DescribeYamlType(patches[i]));
        else
          m.patches.push_back(YAML::Clone(patches[i]));
      }
    }
  }
  YAML::Node bmc = r.Raw("bmc");
  if (bmc.IsDefined() && !bmc.IsNull()) {
    BmcConfig b;
    ReadBmc(MapReader(r.sink(), bmc, r.Field("bmc")), base_dir, b);
    m.bmc = std::move(b);
  }
  ReadMachineClusterKeys(r, cfg, m);
  if (auto v = r.Bool("secureBoot")) m.secure_boot = *v;
  if (auto profile = cfg.profiles.find(m.profile); profile != cfg.profiles.end() &&
      MachineSecureBoot(profile->second.secure_boot, m.secure_boot) == SecureBootChain::kUki &&
      m.config_delivery == ConfigDelivery::kUrl)
    r.sink().Add(r.Raw("configDelivery"),
                 r.Field("configDelivery") + ": url cannot reach a machine booted from its profile's signed UKI "
                 "(profile '" + m.profile + "', secureBoot: uki): the UKI ignores the kernel command line it is "
                 "given; use configDelivery: apply, or secureBoot: false for this machine");
  r.RejectUnknownKeys();
  // The machine's patches and keys must render with its profile (core/install/patch_check.h).
  if (r.sink().count() == before && cfg.profiles.count(m.profile))
    ReportMachinePatchProblems(r.sink(), r.node(), cfg, m, base_configs);
  return r.sink().count() == before;
}

}  // namespace

std::shared_ptr<const Inventory> ReadInventory(const YAML::Node& root, const std::string& file,
                                               const std::string& base_dir, const AppConfig& config,
                                               ConfigProblems& problems) {
  ProblemSink sink(file, &problems);
  auto inv = std::make_shared<Inventory>();
  inv->source = file;
  YAML::Node machines = root.IsMap() ? root["machines"] : YAML::Node();
  if (!machines.IsDefined() || machines.IsNull()) return inv;  // no machines yet: all unknown
  if (!machines.IsSequence()) {
    sink.Add(machines, "machines must be a list, not " + DescribeYamlType(machines));
    return inv;
  }
  // Where each MAC, IP and name was first seen, for duplicate messages.
  std::map<MacAddress, std::pair<std::string, YAML::Mark>> mac_owner;
  std::map<Ipv4Address, std::string> ip_owner;
  std::map<std::string, std::size_t> name_owner;
  BaseConfigCache base_configs;  // profiles' base configs, parsed once for all machines
  for (std::size_t i = 0; i < machines.size(); ++i) {
    MachineConfig m;
    std::vector<YAML::Node> mac_nodes;
    const std::string what = "machines[" + std::to_string(i) + "]";
    MapReader r(sink, machines[i], what);
    const bool ok = r.is_map() && ReadMachine(r, base_dir, config, m, mac_nodes, &base_configs);
    if (!m.name.empty()) {
      if (auto it = name_owner.find(m.name); it != name_owner.end())
        sink.Add(machines[i]["name"], what + ".name: '" + m.name + "' is already the name of machines[" +
                                          std::to_string(it->second) + "]");
      else
        name_owner[m.name] = i;
    }
    for (std::size_t k = 0; k < m.macs.size(); ++k) {
      auto [it, fresh] = mac_owner.try_emplace(m.macs[k], m.name, mac_nodes[k].Mark());
      if (!fresh)
        sink.Add(mac_nodes[k], what + ".macs: " + m.macs[k].ToString() + " already belongs to '" + it->second.first +
                                   "' (line " + std::to_string(it->second.second.line + 1) + ")");
    }
    if (m.ip) {
      auto [it, fresh] = ip_owner.try_emplace(*m.ip, m.name);
      if (!fresh)
        sink.Add(machines[i]["ip"], what + ".ip: " + m.ip->ToString() + " is already the address of '" + it->second +
                                        "'");
    }
    if (ok) inv->machines.push_back(std::move(m));
  }
  return inv;
}

std::shared_ptr<const Inventory> LoadInventoryFile(const std::string& path, const AppConfig& config,
                                                   ConfigProblems& problems) {
  ProblemSink sink(path, &problems);
  std::string text, error;
  if (!ReadWholeFile(path, &text, &error)) {
    sink.AddFileLevel("inventory file " + error);
    return nullptr;
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    sink.Add(e.mark, "YAML syntax error: " + e.msg);
    return nullptr;
  }
  if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
    sink.Add(root, "inventory must be a map with a machines list, not " + DescribeYamlType(root));
    return nullptr;
  }
  if (root.IsMap()) {
    MapReader top(sink, root, "");
    top.Raw("machines");
    top.RejectUnknownKeys();
  }
  return ReadInventory(root, path, DirName(path), config, problems);
}

}  // namespace metalpxe
