// Appliance config: server, dhcp, boot and profiles sections. The inventory
// (machines) is read by inventory_loader.cpp with the same problem sink.
#include "core/config_loader.h"

#include <algorithm>
#include <fstream>
#include <tuple>

#include "core/config_clusters.h"
#include "core/config_paths.h"
#include "core/image_schematic.h"
#include "core/duration.h"
#include "core/install/patch_problem_report.h"
#include "core/inventory_loader.h"
#include "core/yaml_fields.h"

namespace metalpxe {
namespace {

constexpr long long kMaxPort = 65535;

std::optional<YAML::Node> ParseYamlFile(const std::string& path, ProblemSink& sink) {
  std::string text, error;
  if (!ReadWholeFile(path, &text, &error)) {
    sink.AddFileLevel("config file " + error);
    return std::nullopt;
  }
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    sink.Add(e.mark, "YAML syntax error: " + e.msg);
    return std::nullopt;
  }
}

void ReadServer(MapReader r, const std::string& base_dir, ServerConfig& s) {
  if (auto v = r.String("interface")) s.interface = *v;
  if (auto v = r.String("address", true)) {
    if (auto a = Ipv4Address::Parse(*v); a && !a->IsUnspecified())
      s.address = *a;
    else
      r.sink().Add(r.Raw("address"), "server.address: '" + *v + "' is not an IPv4 address machines can reach");
  }
  if (auto v = r.String("address6")) {
    if (auto a = Ipv6Address::Parse(*v); a && !a->IsUnspecified() && !a->IsLinkLocal() && !a->IsMulticast())
      s.address6 = *a;
    else
      r.sink().Add(r.Raw("address6"), "server.address6: '" + *v +
                                          "' is not a global or unique-local IPv6 address machines can reach");
  }
  if (auto v = r.String("stateDir")) s.state_dir = ResolvePath(*v, base_dir);
  if (auto v = r.Int("httpPort", 1, kMaxPort)) s.http_port = static_cast<std::uint16_t>(*v);
  if (auto v = r.Int("tftpPort", 1, kMaxPort)) s.tftp_port = static_cast<std::uint16_t>(*v);
  if (auto v = r.String("tftpRoot")) s.tftp_root = ResolvePath(*v, base_dir);
  auto listen_address = [&](const char* key, const char* example, std::string& into, bool may_be_off) {
    auto v = r.String(key);
    if (!v) return;
    if (may_be_off && *v == "off") {
      into = *v;
      return;
    }
    const auto colon = v->rfind(':');
    const std::string host = colon == std::string::npos ? "" : v->substr(0, colon);
    long long port = 0;
    try {
      port = colon == std::string::npos ? 0 : std::stoll(v->substr(colon + 1));
    } catch (...) {
    }
    if (colon == std::string::npos || port < 1 || port > kMaxPort || (!host.empty() && !Ipv4Address::Parse(host)))
      r.sink().Add(r.Raw(key), "server." + std::string(key) + ": '" + *v + "' is not ADDRESS:PORT (e.g. " + example +
                                   ")" + (may_be_off ? " or off" : ""));
    else
      into = *v;
  };
  listen_address("apiListen", "0.0.0.0:50100", s.api_listen, false);
  listen_address("uiListen", "127.0.0.1:50180", s.ui_listen, true);
  if (auto v = r.Int("eventSinkPort", 1, kMaxPort)) s.event_sink_port = static_cast<std::uint16_t>(*v);
  if (auto v = r.Int("kmsgLogPort", 1, kMaxPort)) s.kmsg_log_port = static_cast<std::uint16_t>(*v);
  if (auto v = r.Enum<std::string>("logLevel", {{"trace", "trace"},
                                                {"debug", "debug"},
                                                {"info", "info"},
                                                {"warn", "warn"},
                                                {"error", "error"}}))
    s.log_level = *v;
  r.RejectUnknownKeys();

  // Ports that would collide on the same address.
  struct Port {
    const char* key;
    std::uint16_t value;
  };
  const Port tcp_ports[] = {{"httpPort", s.http_port}, {"eventSinkPort", s.event_sink_port},
                            {"kmsgLogPort", s.kmsg_log_port}};
  for (std::size_t i = 0; i < std::size(tcp_ports); ++i)
    for (std::size_t j = i + 1; j < std::size(tcp_ports); ++j)
      if (tcp_ports[i].value == tcp_ports[j].value && r.Has(tcp_ports[j].key))
        r.sink().Add(r.KeyMark(tcp_ports[j].key), "server." + std::string(tcp_ports[j].key) + " " +
                                                      std::to_string(tcp_ports[j].value) + " is already server." +
                                                      tcp_ports[i].key);
}

// A subnet's `leaseTime` (v4 and v6 alike).
void ReadLeaseTime(MapReader& r, std::chrono::seconds& out) {
  auto v = r.String("leaseTime");
  if (!v) return;
  auto d = ParseDuration(*v);
  if (!d || d->count() < 60)
    r.sink().Add(r.Raw("leaseTime"),
                 r.Field("leaseTime") + ": '" + *v + "' is not a duration of at least 60s (e.g. 1h, 30m, 3600)");
  else
    out = *d;
}

// A subnet's `dns` list: every entry an address of the subnet's family.
template <typename Address>
void ReadDnsServers(MapReader& r, std::string_view family, std::vector<Address>& out) {
  auto list = r.StringList("dns");
  if (!list) return;
  YAML::Node dns = r.Raw("dns");
  for (std::size_t i = 0; i < list->size(); ++i) {
    if (auto a = Address::Parse((*list)[i]))
      out.push_back(*a);
    else
      r.sink().Add(dns[i], r.Field("dns") + "[" + std::to_string(i) + "]: '" + (*list)[i] + "' is not an " +
                               std::string(family) + " address");
  }
}

void ReadSubnet(MapReader r, SubnetConfig& out, bool* ok) {
  const std::size_t before = r.sink().count();
  if (auto v = r.String("subnet", true)) {
    if (auto c = Ipv4Cidr::Parse(*v))
      out.subnet = *c;
    else
      r.sink().Add(r.Raw("subnet"), r.Field("subnet") + ": '" + *v + "' is not a CIDR subnet such as 10.66.0.0/24 " +
                                        "(host bits must be zero)");
  }
  const bool subnet_ok = r.sink().count() == before;
  if (auto v = r.String("pool", true)) {
    if (auto p = Ipv4Range::Parse(*v)) {
      out.pool = *p;
      if (subnet_ok) {
        if (!out.subnet.Contains(p->first) || !out.subnet.Contains(p->last))
          r.sink().Add(r.Raw("pool"), r.Field("pool") + ": " + p->ToString() + " is not inside subnet " +
                                          out.subnet.ToString());
        else if (p->Contains(out.subnet.network) || p->Contains(out.subnet.Broadcast()))
          r.sink().Add(r.Raw("pool"), r.Field("pool") + ": " + p->ToString() +
                                          " includes the subnet's network or broadcast address");
      }
    } else {
      r.sink().Add(r.Raw("pool"), r.Field("pool") + ": '" + *v + "' is not a range FIRST-LAST such as " +
                                      "10.66.0.100-10.66.0.200 (first <= last)");
    }
  }
  if (auto v = r.String("router")) {
    auto a = Ipv4Address::Parse(*v);
    if (!a)
      r.sink().Add(r.Raw("router"), r.Field("router") + ": '" + *v + "' is not an IPv4 address");
    else if (subnet_ok && !out.subnet.Contains(*a))
      r.sink().Add(r.Raw("router"), r.Field("router") + ": " + *v + " is not inside subnet " + out.subnet.ToString());
    else
      out.router = *a;
  }
  ReadDnsServers<Ipv4Address>(r, "IPv4", out.dns);
  ReadLeaseTime(r, out.lease_time);
  if (auto v = r.String("domain")) out.domain = *v;
  r.RejectUnknownKeys();
  *ok = r.sink().count() == before;
}

void ReadDhcp(MapReader r, const YAML::Mark& fallback, DhcpConfig& d) {
  if (auto m = r.Enum<DhcpMode>("mode", {{"full", DhcpMode::kFull}, {"proxy", DhcpMode::kProxy}, {"off", DhcpMode::kOff}}))
    d.mode = *m;
  if (auto v = r.Bool("proxyPort67")) d.proxy_port67 = *v;
  YAML::Node subnets = r.Raw("subnets");
  if (subnets.IsDefined() && !subnets.IsNull() && !subnets.IsSequence()) {
    r.sink().Add(subnets, "dhcp.subnets must be a list, not " + DescribeYamlType(subnets));
  } else if (subnets.IsSequence()) {
    std::vector<std::pair<SubnetConfig, YAML::Node>> good;
    for (std::size_t i = 0; i < subnets.size(); ++i) {
      SubnetConfig s;
      bool ok = false;
      ReadSubnet(MapReader(r.sink(), subnets[i], "dhcp.subnets[" + std::to_string(i) + "]"), s, &ok);
      if (!ok) continue;
      for (const auto& [other, node] : good) {
        if (other.subnet.Contains(s.subnet.network) || s.subnet.Contains(other.subnet.network))
          r.sink().Add(subnets[i]["subnet"], "dhcp.subnets[" + std::to_string(i) + "].subnet: " +
                                                 s.subnet.ToString() + " overlaps " + other.subnet.ToString());
        if (other.pool.Overlaps(s.pool))
          r.sink().Add(subnets[i]["pool"], "dhcp.subnets[" + std::to_string(i) + "].pool: " + s.pool.ToString() +
                                               " overlaps pool " + other.pool.ToString());
      }
      good.emplace_back(s, subnets[i]);
      d.subnets.push_back(s);
    }
  }
  if (d.mode == DhcpMode::kFull && (!subnets.IsSequence() || subnets.size() == 0))
    r.sink().Add(r.is_map() ? r.KeyMark(r.Has("mode") ? "mode" : "subnets") : fallback,
                 "dhcp.mode is full but dhcp.subnets is empty: add a subnet with a pool, or use mode proxy");
  r.RejectUnknownKeys();
}

void ReadSubnet6(MapReader r, Subnet6Config& out, bool* ok) {
  const std::size_t before = r.sink().count();
  if (auto v = r.String("subnet", true)) {
    if (auto c = Ipv6Cidr::Parse(*v); c && c->prefix_length >= 64 && c->prefix_length <= 120)
      out.subnet = *c;
    else
      r.sink().Add(r.Raw("subnet"), r.Field("subnet") + ": '" + *v +
                                        "' is not an IPv6 prefix such as fd00:66::/64 (/64 to /120, host bits zero)");
  }
  const bool subnet_ok = r.sink().count() == before;
  if (auto v = r.String("pool", true)) {
    if (auto p = Ipv6Range::Parse(*v)) {
      out.pool = *p;
      if (subnet_ok && (!out.subnet.Contains(p->first) || !out.subnet.Contains(p->last)))
        r.sink().Add(r.Raw("pool"), r.Field("pool") + ": " + p->ToString() + " is not inside subnet " +
                                        out.subnet.ToString());
    } else {
      r.sink().Add(r.Raw("pool"), r.Field("pool") + ": '" + *v + "' is not a range FIRST-LAST such as " +
                                      "fd00:66::100-fd00:66::1ff (first <= last)");
    }
  }
  ReadDnsServers<Ipv6Address>(r, "IPv6", out.dns);
  ReadLeaseTime(r, out.lease_time);
  r.RejectUnknownKeys();
  *ok = r.sink().count() == before;
}

void ReadDhcp6(MapReader r, const YAML::Mark& fallback, bool have_address6, Dhcp6Config& d) {
  if (auto m = r.Enum<DhcpMode>("mode", {{"full", DhcpMode::kFull}, {"proxy", DhcpMode::kProxy}, {"off", DhcpMode::kOff}}))
    d.mode = *m;
  YAML::Node subnets = r.Raw("subnets");
  if (subnets.IsDefined() && !subnets.IsNull() && !subnets.IsSequence()) {
    r.sink().Add(subnets, "dhcp6.subnets must be a list, not " + DescribeYamlType(subnets));
  } else if (subnets.IsSequence()) {
    for (std::size_t i = 0; i < subnets.size(); ++i) {
      Subnet6Config s;
      bool ok = false;
      ReadSubnet6(MapReader(r.sink(), subnets[i], "dhcp6.subnets[" + std::to_string(i) + "]"), s, &ok);
      if (!ok) continue;
      for (const auto& other : d.subnets)
        if (other.subnet.Contains(s.subnet.network) || s.subnet.Contains(other.subnet.network))
          r.sink().Add(subnets[i]["subnet"], "dhcp6.subnets[" + std::to_string(i) + "].subnet: " +
                                                 s.subnet.ToString() + " overlaps " + other.subnet.ToString());
      d.subnets.push_back(s);
    }
  }
  const YAML::Mark where = r.is_map() ? r.KeyMark(r.Has("mode") ? "mode" : "subnets") : fallback;
  if (d.mode == DhcpMode::kFull && (!subnets.IsSequence() || subnets.size() == 0))
    r.sink().Add(where, "dhcp6.mode is full but dhcp6.subnets is empty: add a subnet with a pool, or use mode proxy");
  if (d.mode != DhcpMode::kOff && !have_address6)
    r.sink().Add(where, "dhcp6.mode is " + std::string(DhcpModeName(d.mode)) +
                            " but server.address6 is not set: boot URLs need metalpxe's IPv6 address");
  r.RejectUnknownKeys();
}

// A duration key of at least `min`; problems name the key and the bound.
void ReadDurationAtLeast(MapReader& r, const char* key, std::chrono::seconds min, std::chrono::seconds& out) {
  auto v = r.String(key);
  if (!v) return;
  auto d = ParseDuration(*v);
  if (!d || *d < min)
    r.sink().Add(r.Raw(key), r.Field(key) + ": '" + *v + "' is not a duration of at least " +
                                 std::to_string(min.count()) + "s");
  else
    out = *d;
}

void ReadBoot(MapReader r, BootConfig& b) {
  if (auto v = r.Enum<UnknownMachinePolicy>("unknownMachines", {{"ignore", UnknownMachinePolicy::kIgnore},
                                                                {"discover", UnknownMachinePolicy::kDiscover},
                                                                {"auto-install", UnknownMachinePolicy::kAutoInstall}}))
    b.unknown_machines = *v;
  if (auto v = r.Enum<Role>("defaultRole", {{"controlplane", Role::kControlPlane}, {"worker", Role::kWorker}}))
    b.default_role = *v;
  if (auto v = r.String("defaultProfile")) b.default_profile = *v;
  if (auto v = r.Enum<BootFromDisk>(
          "bootFromDisk",
          {{"exit", BootFromDisk::kExit}, {"sanboot", BootFromDisk::kSanboot}, {"http-404", BootFromDisk::kHttp404}}))
    b.boot_from_disk = *v;
  ReadDurationAtLeast(r, "configTokenTtl", std::chrono::seconds(10), b.config_token_ttl);
  if (auto v = r.Int("configTokenMaxFetches", 1, 1000)) b.config_token_max_fetches = static_cast<int>(*v);
  r.RejectUnknownKeys();
}

// power.hetznerRobot: where the Robot web service is. Every request carries
// the web-service password (Basic auth), so plain HTTP is refused; a test
// fixture or proxy with its own certificate authority names it in caFile.
void ReadHetznerRobot(MapReader r, const std::string& base_dir, HetznerRobotConfig& h) {
  if (auto url = r.String("url")) {
    if (url->rfind("https://", 0) != 0 || url->size() <= 8)
      r.sink().Add(r.Raw("url"), r.Field("url") + ": '" + *url +
                                     "' is not an HTTPS URL; the Robot password goes with every request, so "
                                     "metalpxe talks to Robot over HTTPS only (a fixture with its own CA: https:// "
                                     "and caFile)");
    h.url = *url;
    while (!h.url.empty() && h.url.back() == '/') h.url.pop_back();
  }
  if (auto ca = r.String("caFile")) {
    h.ca_file = ResolvePath(*ca, base_dir);
    if (auto why = WhyNotReadableFile(h.ca_file); !why.empty())
      r.sink().Add(r.Raw("caFile"), r.Field("caFile") + ": " + h.ca_file + " " + why);
  }
  r.RejectUnknownKeys();
}

void ReadPower(MapReader r, const std::string& base_dir, PowerConfig& p) {
  if (r.Has("hetznerRobot"))
    ReadHetznerRobot(MapReader(r.sink(), r.Raw("hetznerRobot"), r.Field("hetznerRobot")), base_dir, p.hetzner_robot);
  ReadDurationAtLeast(r, "minInterval", std::chrono::seconds(1), p.min_interval);
  // Below half a minute no firmware gets from power-on to iPXE.
  ReadDurationAtLeast(r, "pxeTimeout", std::chrono::seconds(30), p.pxe_timeout);
  if (auto v = r.Int("attempts", 1, 10)) p.attempts = static_cast<int>(*v);
  r.RejectUnknownKeys();
}

bool IsHex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

void ReadPatches(MapReader& r, std::vector<YAML::Node>& out) {
  YAML::Node patches = r.Raw("patches");
  if (!patches.IsDefined() || patches.IsNull()) return;
  if (!patches.IsSequence()) {
    r.sink().Add(patches, r.Field("patches") + " must be a list of maps, not " + DescribeYamlType(patches));
    return;
  }
  for (std::size_t i = 0; i < patches.size(); ++i) {
    if (!patches[i].IsMap() && !patches[i].IsSequence()) {
      r.sink().Add(patches[i], r.Field("patches") + "[" + std::to_string(i) + "] must be a Talos config patch: a " +
                                   "map (strategic merge) or a list of JSON6902 operations, not " +
                                   DescribeYamlType(patches[i]));
      continue;
    }
    out.push_back(YAML::Clone(patches[i]));
  }
}

void CheckReadable(MapReader& r, const YAML::Node& at, const std::string& field, const std::string& path) {
  if (auto why = WhyNotReadableFile(path); !why.empty()) r.sink().Add(at, field + ": " + path + " " + why);
}

// secureBoot: true (shim) | uki | false, and the UKI's own keys. Read after
// configDelivery and the kernel's source (both are checked against it).
void ReadProfileSecureBoot(MapReader& r, const std::string& base_dir, ProfileConfig& p) {
  const auto uki = r.String("uki");
  if (auto v = r.String("ukiSha256")) p.uki_sha256 = *v;
  if (auto v = r.Enum<SecureBootChain>("secureBoot", {{"false", SecureBootChain::kNone},
                                                      {"true", SecureBootChain::kShim},
                                                      {"shim", SecureBootChain::kShim},
                                                      {"uki", SecureBootChain::kUki}}))
    p.secure_boot = *v;
  // The boot-file table has a signed chain (shim + GRUB) for x86_64 UEFI only.
  if (p.secure_boot == SecureBootChain::kShim && p.arch != "amd64")
    r.sink().Add(r.Raw("secureBoot"), r.Field("secureBoot") + ": the signed boot chain (shim + GRUB) is served to "
                                      "amd64 machines only, not " + p.arch);
  if (p.secure_boot != SecureBootChain::kUki) {
    if (uki) r.sink().Add(r.KeyMark("uki"), r.Field("uki") + " is used only with secureBoot: uki");
    if (r.Has("ukiSha256"))
      r.sink().Add(r.KeyMark("ukiSha256"), r.Field("ukiSha256") + " is used only with secureBoot: uki");
    return;
  }
  // The UKI's command line is inside its signature: Talos ignores the one a
  // boot loader gives, so talos.config with a per-machine token cannot
  // reach it. The config comes by apply (maintenance mode) instead.
  if (p.config_delivery == ConfigDelivery::kUrl)
    r.sink().Add(r.Raw("configDelivery"),
                 r.Field("configDelivery") + ": url cannot reach a machine booted from the signed UKI (secureBoot: "
                 "uki): the UKI ignores the kernel command line it is given, so talos.config is never seen; use "
                 "configDelivery: apply (the default for UKI profiles) or put one config URL in the schematic's "
                 "extraKernelArgs and secureBoot: false");
  if (!p.config_delivery) p.config_delivery = ConfigDelivery::kApply;
  if (!p.uki_sha256.empty() && !IsHex64(p.uki_sha256))
    r.sink().Add(r.Raw("ukiSha256"), r.Field("ukiSha256") + " must be a 64-character lower-case hex sha256");
  if (uki) {
    p.uki = ResolvePath(*uki, base_dir);
    CheckReadable(r, r.Raw("uki"), r.Field("uki"), p.uki);
  } else if (p.talos_version.empty()) {
    r.sink().Add(r.Raw("secureBoot"), r.Field("secureBoot") + ": uki needs the UKI: talosVersion + schematic "
                                      "(Image Factory's metal-" + p.arch + "-secureboot-uki.efi) or a uki file");
  }
}

// `configs` may be left out when the config has clusters (machines then name theirs).
void ReadProfile(MapReader r, const std::string& base_dir, bool configs_required, ProfileConfig& p) {
  const std::size_t problems_before = r.sink().count();
  const auto kernel = r.String("kernel");
  const auto initramfs = r.String("initramfs");
  const auto version = r.String("talosVersion");
  auto schematic = r.String("schematic");
  // schematicFile: a talos-image.yaml; its ID computed as Image Factory does.
  if (auto file = r.String("schematicFile")) {
    const std::string path = ResolvePath(*file, base_dir);
    std::string text, error;
    if (schematic) {
      r.sink().Add(r.KeyMark("schematicFile"), r.what() + ": give schematic (an ID) or schematicFile, not both");
    } else if (!ReadWholeFile(path, &text, &error)) {
      r.sink().Add(r.Raw("schematicFile"), r.Field("schematicFile") + ": " + path + " " + error);
    } else if (auto id = SchematicIdOf(text); !id.ok()) {
      r.sink().Add(r.Raw("schematicFile"), r.Field("schematicFile") + ": " + path + ": " + id.status().message());
    } else {
      schematic = *id;
      p.schematic_file = path;
    }
    if (!schematic) schematic = std::string(64, '0');  // reported above; keep the other checks quiet
  }
  if (auto v = r.String("imageFactory")) p.image_factory = *v;
  if (auto v = r.String("kernelSha256")) p.kernel_sha256 = *v;
  if (auto v = r.String("initramfsSha256")) p.initramfs_sha256 = *v;
  if (auto v = r.Enum<std::string>("arch", {{"amd64", "amd64"}, {"arm64", "arm64"}})) p.arch = *v;
  if (kernel || initramfs) {
    if (version || schematic)
      r.sink().Add(r.KeyMark(version ? "talosVersion" : "schematic"),
                   r.what() + ": give either kernel+initramfs files or talosVersion+schematic, not both");
    if (!kernel) r.sink().Add(r.node(), r.what() + ".kernel is required with initramfs");
    if (!initramfs) r.sink().Add(r.node(), r.what() + ".initramfs is required with kernel");
    if (kernel) {
      p.kernel = ResolvePath(*kernel, base_dir);
      CheckReadable(r, r.Raw("kernel"), r.Field("kernel"), p.kernel);
    }
    if (initramfs) {
      p.initramfs = ResolvePath(*initramfs, base_dir);
      CheckReadable(r, r.Raw("initramfs"), r.Field("initramfs"), p.initramfs);
    }
  } else if (version || schematic) {
    if (!version) r.sink().Add(r.node(), r.what() + ".talosVersion is required with schematic");
    if (!schematic) r.sink().Add(r.node(), r.what() + ".schematic is required with talosVersion");
    if (version && (version->size() < 2 || (*version)[0] != 'v'))
      r.sink().Add(r.Raw("talosVersion"), r.Field("talosVersion") + ": '" + *version + "' is not like v1.9.5");
    if (schematic && !IsHex64(*schematic))
      r.sink().Add(r.Raw("schematic"), r.Field("schematic") + " must be a 64-character lower-case hex schematic ID");
    // Digests are optional: without one the first download is pinned (its
    // digest recorded in the cache) and later downloads must match it.
    if (!p.kernel_sha256.empty() && !IsHex64(p.kernel_sha256))
      r.sink().Add(r.Raw("kernelSha256"), r.Field("kernelSha256") + " must be a 64-character lower-case hex sha256");
    if (!p.initramfs_sha256.empty() && !IsHex64(p.initramfs_sha256))
      r.sink().Add(r.Raw("initramfsSha256"),
                   r.Field("initramfsSha256") + " must be a 64-character lower-case hex sha256");
    if (version) p.talos_version = *version;
    if (schematic) p.schematic = *schematic;
  } else {
    r.sink().Add(r.node(), r.what() + " needs kernel+initramfs files or talosVersion+schematic");
  }
  if (auto args = r.KernelArgs("kernelArgs")) p.kernel_args = *args;
  MapReader configs(r.sink(), r.Raw("configs"), r.Field("configs"));
  if (!configs.is_map()) {
    if (!r.Has("configs") && configs_required)
      r.sink().Add(r.node(), r.Field("configs") + " is required (talosctl gen config output)");
  } else {
    const std::pair<const char*, Role> roles[] = {{"controlplane", Role::kControlPlane}, {"worker", Role::kWorker}};
    for (const auto& [key, role] : roles) {
      if (auto path = configs.String(key)) {
        p.configs[role] = ResolvePath(*path, base_dir);
        CheckReadable(configs, configs.Raw(key), configs.Field(key), p.configs[role]);
      }
    }
    configs.RejectUnknownKeys();
  }
  ReadPatches(r, p.patches);
  ReadProfileClusterKeys(r, p);
  ReadProfileSecureBoot(r, base_dir, p);
  r.RejectUnknownKeys();
  // Each patch must apply to the base configs (core/install/patch_check.h).
  if (r.sink().count() == problems_before) ReportProfilePatchProblems(r.sink(), r.node(), p);
}

// Machines accepted through the management API live in
// <stateDir>/accepted-machines.yaml (same form as the inventory) until the
// user commits them to the Git inventory; a machine already there wins.
void MergeAcceptedMachines(AppConfig& cfg, ConfigProblems& problems) {
  const std::string path = AcceptedMachinesFile(cfg.server);
  if (!cfg.inventory || WhyNotReadableFile(path) == "does not exist") return;
  auto accepted = LoadInventoryFile(path, cfg, problems);
  if (!accepted) return;
  auto merged = std::make_shared<Inventory>(*cfg.inventory);
  for (const auto& m : accepted->machines) {
    bool shadowed = merged->FindByName(m.name) != nullptr;
    for (const auto& mac : m.macs) shadowed |= merged->FindByMac(mac) != nullptr;
    if (!shadowed) merged->machines.push_back(m);
  }
  cfg.inventory = std::move(merged);
}

// Parses every section; `inventory_ok` false when the inventory had problems.
std::shared_ptr<AppConfig> ParseAppConfig(const std::string& path, ConfigProblems& problems) {
  ProblemSink sink(path, &problems);
  auto root = ParseYamlFile(path, sink);
  if (!root) return nullptr;
  auto cfg = std::make_shared<AppConfig>();
  cfg->file = path;
  const std::string base_dir = DirName(path);
  MapReader top(sink, *root, "");
  if (!top.is_map()) {
    if (!root->IsDefined() || root->IsNull()) sink.AddFileLevel("config file is empty");
    return nullptr;
  }
  if (!top.Has("server")) sink.Add(root->Mark(), "server section is required (at least server.address)");
  ReadServer(MapReader(sink, top.Raw("server"), "server"), base_dir, cfg->server);
  ReadDhcp(MapReader(sink, top.Raw("dhcp"), "dhcp"), root->Mark(), cfg->dhcp);
  ReadDhcp6(MapReader(sink, top.Raw("dhcp6"), "dhcp6"), root->Mark(), cfg->server.address6.has_value(), cfg->dhcp6);
  ReadBoot(MapReader(sink, top.Raw("boot"), "boot"), cfg->boot);
  ReadPower(MapReader(sink, top.Raw("power"), "power"), base_dir, cfg->power);
  ReadStoreSection(MapReader(sink, top.Raw("store"), "store"), base_dir, cfg->store);

  ReadClusters(sink, top.Raw("clusters"), base_dir, *cfg);
  YAML::Node profiles = top.Raw("profiles");
  if (profiles.IsMap()) {
    for (const auto& kv : profiles) {
      ProfileConfig p;
      p.name = kv.first.Scalar();
      ReadProfile(MapReader(sink, kv.second, "profiles." + p.name), base_dir, cfg->clusters.empty(), p);
      cfg->profiles[p.name] = std::move(p);
    }
  } else if (profiles.IsDefined() && !profiles.IsNull()) {
    sink.Add(profiles, "profiles must be a map of profile name to profile, not " + DescribeYamlType(profiles));
  }
  if (!cfg->profiles.count(cfg->boot.default_profile)) {
    const YAML::Node boot = top.Raw("boot");
    const YAML::Mark at = boot.IsMap() && boot["defaultProfile"] ? boot["defaultProfile"].Mark() : root->Mark();
    sink.Add(at, "boot.defaultProfile '" + cfg->boot.default_profile + "' is not defined under profiles");
  }

  // Inventory: a file, or an inline machines list of the same form.
  YAML::Node inventory = top.Raw("inventory");
  YAML::Node inline_machines = top.Raw("machines");
  top.RejectUnknownKeys();
  if (inventory.IsDefined() && !inventory.IsNull() && inline_machines.IsDefined()) {
    sink.Add(inline_machines, "give either inventory (a file) or an inline machines list, not both");
    return cfg;
  }
  if (inventory.IsDefined() && !inventory.IsNull()) {
    if (!inventory.IsScalar()) {
      sink.Add(inventory, "inventory must be a file path, not " + DescribeYamlType(inventory));
      return cfg;
    }
    cfg->inventory_file = ResolvePath(inventory.Scalar(), base_dir);
    if (auto why = WhyNotReadableFile(cfg->inventory_file); !why.empty()) {
      sink.Add(inventory, "inventory: " + cfg->inventory_file + " " + why);
      return cfg;
    }
    cfg->inventory = LoadInventoryFile(cfg->inventory_file, *cfg, problems);
  } else {
    YAML::Node holder;
    if (inline_machines.IsDefined()) holder["machines"] = inline_machines;
    cfg->inventory = ReadInventory(holder, path, base_dir, *cfg, problems);
  }
  MergeAcceptedMachines(*cfg, problems);
  return cfg;
}

}  // namespace

std::string AcceptedMachinesFile(const ServerConfig& server) { return server.state_dir + "/accepted-machines.yaml"; }

LoadedConfig LoadAppConfig(const std::string& path_in) {
  LoadedConfig out;
  const std::string path = ResolvePath(path_in, DirName("x"));
  auto cfg = ParseAppConfig(path, out.problems);
  // Report in reading order: file by file, top to bottom.
  std::stable_sort(out.problems.begin(), out.problems.end(), [](const ConfigProblem& a, const ConfigProblem& b) {
    return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
  });
  if (out.problems.empty() && cfg) out.config = std::move(cfg);
  return out;
}

ReloadedConfig ReloadAppConfig(const AppConfig& running) {
  ReloadedConfig out;
  auto fresh = ParseAppConfig(running.file, out.problems);
  if (!out.problems.empty() || !fresh) return out;
  // Sockets and leases belong to the running server/dhcp settings: keep them.
  auto server_changed = [&] {
    const auto& a = running.server;
    const auto& b = fresh->server;
    return a.interface != b.interface || a.address != b.address || a.address6 != b.address6 || a.state_dir != b.state_dir ||
           a.http_port != b.http_port || a.tftp_port != b.tftp_port || a.tftp_root != b.tftp_root ||
           a.api_listen != b.api_listen || a.ui_listen != b.ui_listen || a.event_sink_port != b.event_sink_port ||
           a.kmsg_log_port != b.kmsg_log_port || a.log_level != b.log_level;
  };
  auto dhcp_changed = [&] {
    const auto& a = running.dhcp;
    const auto& b = fresh->dhcp;
    if (a.mode != b.mode || a.proxy_port67 != b.proxy_port67 || a.subnets.size() != b.subnets.size()) return true;
    for (std::size_t i = 0; i < a.subnets.size(); ++i) {
      const auto& x = a.subnets[i];
      const auto& y = b.subnets[i];
      if (x.subnet != y.subnet || x.pool.first != y.pool.first || x.pool.last != y.pool.last ||
          x.router != y.router || x.dns != y.dns || x.lease_time != y.lease_time || x.domain != y.domain)
        return true;
    }
    return false;
  };
  if (server_changed()) out.restart_needed.push_back("server");
  if (dhcp_changed()) out.restart_needed.push_back("dhcp");
  auto dhcp6_changed = [&] {
    const auto& a = running.dhcp6;
    const auto& b = fresh->dhcp6;
    if (a.mode != b.mode || a.subnets.size() != b.subnets.size()) return true;
    for (std::size_t i = 0; i < a.subnets.size(); ++i) {
      const auto& x = a.subnets[i];
      const auto& y = b.subnets[i];
      if (x.subnet != y.subnet || x.pool.first != y.pool.first || x.pool.last != y.pool.last || x.dns != y.dns ||
          x.lease_time != y.lease_time)
        return true;
    }
    return false;
  };
  if (dhcp6_changed()) out.restart_needed.push_back("dhcp6");
  if (fresh->store != running.store) out.restart_needed.push_back("store");
  fresh->server = running.server;
  fresh->dhcp = running.dhcp;
  fresh->dhcp6 = running.dhcp6;
  fresh->store = running.store;
  out.config = std::move(fresh);
  return out;
}

}  // namespace metalpxe
