#include "core/install/config_shorthands.h"

#include <algorithm>

#include "core/install/strategic_merge.h"

namespace metalpxe {
namespace {

// The alias the static-address shorthand gives the machine's boot NIC.
constexpr std::string_view kLinkAlias = "mgmt0";

bool IsKind(const YamlValue& doc, std::string_view kind) {
  return doc.is_map() && doc.ScalarAt("kind") == kind && doc.ScalarAt("apiVersion") == "v1alpha1";
}

YamlValue* FindKind(std::vector<YamlValue>& docs, std::string_view kind) {
  const auto it = std::find_if(docs.begin(), docs.end(), [&](const YamlValue& d) { return IsKind(d, kind); });
  return it == docs.end() ? nullptr : &*it;
}

YamlValue* FindV1Alpha1(std::vector<YamlValue>& docs) {
  const auto it = std::find_if(docs.begin(), docs.end(), [](const YamlValue& d) {
    auto id = IdentifyDocument(d, "");
    return id.ok() && id->kind == "v1alpha1" && id->api_version.empty();
  });
  return it == docs.end() ? nullptr : &*it;
}

// The v1alpha1 document, created first in the list when the config has none.
YamlValue& V1Alpha1(std::vector<YamlValue>& docs) {
  if (YamlValue* doc = FindV1Alpha1(docs)) return *doc;
  YamlValue doc = YamlValue::Map();
  doc.Set("version", YamlValue::Plain("v1alpha1"));
  docs.insert(docs.begin(), std::move(doc));
  return docs.front();
}

YamlValue NewDocument(std::string_view kind, std::string_view name = {}) {
  YamlValue doc = YamlValue::Map();
  doc.Set("apiVersion", YamlValue::Plain("v1alpha1"));
  doc.Set("kind", YamlValue::String(std::string(kind)));
  if (!name.empty()) doc.Set("name", YamlValue::String(std::string(name)));
  return doc;
}

// The map at `keys` under `root`, created where absent; an error when
// something other than a map already stands on the way.
Result<YamlValue*> MapPath(YamlValue& root, std::initializer_list<std::string_view> keys, std::string_view context) {
  YamlValue* node = &root;
  std::string shown;
  for (std::string_view key : keys) {
    shown += (shown.empty() ? "" : ".") + std::string(key);
    YamlValue& next = node->MapAt(std::string(key));
    if (!next.is_map()) {
      return Status(ErrorCode::kInvalidArgument,
                    std::string(context) + ": " + shown + " is " + std::string(next.KindName()) + ", not a map");
    }
    node = &next;
  }
  return node;
}

bool IsUnset(const YamlValue* v) {
  return v == nullptr || v->is_null() || (v->is_scalar() && v->text().empty()) || (v->is_seq() && v->items().empty());
}

std::string CelString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

YamlValue StringList(const std::vector<std::string>& items) {
  YamlValue seq = YamlValue::Seq();
  for (const auto& s : items) seq.items().push_back(YamlValue::String(s));
  return seq;
}

Status StaticAddressV1Alpha1(std::vector<YamlValue>& docs, const StaticAddress& a, const std::string& cidr,
                             std::string_view context) {
  YamlValue device = YamlValue::Map();
  device.MapAt("deviceSelector").Set("hardwareAddr", YamlValue::String(a.mac.ToString()));
  device.Set("addresses", StringList({cidr}));
  if (a.router) {
    YamlValue route = YamlValue::Map();
    route.Set("network", YamlValue::String("0.0.0.0/0"));
    route.Set("gateway", YamlValue::String(a.router->ToString()));
    YamlValue routes = YamlValue::Seq();
    routes.items().push_back(std::move(route));
    device.Set("routes", std::move(routes));
  }
  device.Set("dhcp", YamlValue::Plain("false"));
  auto network = MapPath(V1Alpha1(docs), {"machine", "network"}, context);
  if (!network.ok()) return network.status();
  YamlValue* interfaces = (*network)->Find("interfaces");
  if (interfaces == nullptr || interfaces->is_null()) interfaces = &(*network)->Set("interfaces", YamlValue::Seq());
  if (!interfaces->is_seq()) {
    return Status(ErrorCode::kInvalidArgument, std::string(context) + ": machine.network.interfaces is not a list");
  }
  const YamlValue* selector = device.Find("deviceSelector");
  const bool present = std::any_of(interfaces->items().begin(), interfaces->items().end(), [&](const YamlValue& d) {
    const YamlValue* s = d.is_map() ? d.Find("deviceSelector") : nullptr;
    return s != nullptr && SemanticallyEqual(*s, *selector);
  });
  if (!present) {
    interfaces->items().insert(interfaces->items().begin(), std::move(device));
    return Status::Ok();
  }
  // Merge into the entry that selects this NIC already (NetworkDeviceList.Merge).
  YamlValue patch = YamlValue::Map();
  YamlValue list = YamlValue::Seq();
  list.items().push_back(std::move(device));
  patch.MapAt("machine").MapAt("network").Set("interfaces", std::move(list));
  return MergeDocument(V1Alpha1(docs), std::move(patch), DocumentId{"", "v1alpha1", ""}, context);
}

// The alias of the LinkAliasConfig that selects this MAC, creating one.
Result<std::string> LinkAliasFor(std::vector<YamlValue>& docs, const MacAddress& mac, std::string_view context) {
  const std::string match = LinkSelectorForMac(mac);
  for (const auto& doc : docs) {
    if (!IsKind(doc, "LinkAliasConfig")) continue;
    const YamlValue* selector = doc.Find("selector");
    if (selector != nullptr && selector->is_map() && selector->ScalarAt("match") == match) {
      return doc.ScalarAt("name");
    }
  }
  for (const auto& doc : docs) {
    if ((IsKind(doc, "LinkAliasConfig") || IsKind(doc, "LinkConfig")) && doc.ScalarAt("name") == kLinkAlias) {
      return Status(ErrorCode::kInvalidArgument, std::string(context) + ": the config already has a link named " +
                                                     std::string(kLinkAlias) + " for another NIC");
    }
  }
  YamlValue alias = NewDocument("LinkAliasConfig", kLinkAlias);
  alias.MapAt("selector").Set("match", YamlValue::String(match));
  docs.push_back(std::move(alias));
  return std::string(kLinkAlias);
}

Status StaticAddressDocuments(std::vector<YamlValue>& docs, const StaticAddress& a, const std::string& cidr,
                              std::string_view context) {
  auto alias = LinkAliasFor(docs, a.mac, context);
  if (!alias.ok()) return alias.status();
  YamlValue patch = NewDocument("LinkConfig", *alias);
  YamlValue address = YamlValue::Map();
  address.Set("address", YamlValue::String(cidr));
  patch.Set("addresses", YamlValue::Seq()).items().push_back(std::move(address));
  if (a.router) {
    YamlValue route = YamlValue::Map();
    route.Set("gateway", YamlValue::String(a.router->ToString()));
    patch.Set("routes", YamlValue::Seq()).items().push_back(std::move(route));
  }
  for (auto& doc : docs) {
    if (IsKind(doc, "LinkConfig") && doc.ScalarAt("name") == *alias) {
      return MergeDocument(doc, std::move(patch), DocumentId{"v1alpha1", "LinkConfig", *alias}, context);
    }
  }
  docs.push_back(std::move(patch));
  return Status::Ok();
}

}  // namespace

std::string InstallDiskSelector(const std::string& disk) {
  if (disk.starts_with("/dev/disk/")) return CelString(disk) + " in disk.symlinks";
  return "disk.dev_path == " + CelString(disk);
}

std::string LinkSelectorForMac(const MacAddress& mac) {
  return "mac(link.hardware_addr) == " + CelString(mac.ToString());
}

Status ApplyInstallDiskShorthand(std::vector<YamlValue>& docs, TalosRelease release, const std::string& disk,
                                 std::string_view context) {
  YamlValue* unattended = FindKind(docs, "UnattendedInstallConfig");
  YamlValue* v1alpha1 = FindV1Alpha1(docs);
  const YamlValue* machine = v1alpha1 != nullptr ? v1alpha1->Find("machine") : nullptr;
  const bool legacy_install = machine != nullptr && machine->is_map() && !IsUnset(machine->Find("install"));
  if (unattended == nullptr && (legacy_install || !release.AtLeast(1, 14))) {
    auto install = MapPath(V1Alpha1(docs), {"machine", "install"}, context);
    if (!install.ok()) return install.status();
    (*install)->Set("disk", YamlValue::String(disk));
    return Status::Ok();
  }
  if (unattended == nullptr) {
    docs.push_back(NewDocument("UnattendedInstallConfig"));
    unattended = &docs.back();
  }
  auto selector = MapPath(*unattended, {"provisioning", "diskSelector"}, context);
  if (!selector.ok()) return selector.status();
  (*selector)->Set("match", YamlValue::String(InstallDiskSelector(disk)));
  return Status::Ok();
}

Status ApplyStaticAddressShorthand(std::vector<YamlValue>& docs, TalosRelease release, const StaticAddress& address,
                                   std::string_view context) {
  const std::string cidr = address.ip.ToString() + "/" + std::to_string(address.prefix_length);
  if (!release.AtLeast(1, 12)) return StaticAddressV1Alpha1(docs, address, cidr, context);
  return StaticAddressDocuments(docs, address, cidr, context);
}

Status ApplyDefaultNameservers(std::vector<YamlValue>& docs, TalosRelease release,
                               const std::vector<Ipv4Address>& servers, std::string_view context) {
  if (servers.empty()) return Status::Ok();
  YamlValue* resolver = FindKind(docs, "ResolverConfig");
  YamlValue* v1alpha1 = FindV1Alpha1(docs);
  const YamlValue* machine = v1alpha1 != nullptr ? v1alpha1->Find("machine") : nullptr;
  const YamlValue* network = machine != nullptr && machine->is_map() ? machine->Find("network") : nullptr;
  if (network != nullptr && network->is_map() && !IsUnset(network->Find("nameservers"))) return Status::Ok();
  if (resolver != nullptr && !IsUnset(resolver->Find("nameservers"))) return Status::Ok();
  std::vector<std::string> addresses;
  for (const auto& s : servers) addresses.push_back(s.ToString());
  if (resolver == nullptr && !release.AtLeast(1, 12)) {
    auto net = MapPath(V1Alpha1(docs), {"machine", "network"}, context);
    if (!net.ok()) return net.status();
    (*net)->Set("nameservers", StringList(addresses));
    return Status::Ok();
  }
  if (resolver == nullptr) {
    docs.push_back(NewDocument("ResolverConfig"));
    resolver = &docs.back();
  }
  YamlValue list = YamlValue::Seq();
  for (const auto& a : addresses) {
    YamlValue entry = YamlValue::Map();
    entry.Set("address", YamlValue::String(a));
    list.items().push_back(std::move(entry));
  }
  resolver->Set("nameservers", std::move(list));
  return Status::Ok();
}

Status ApplyDefaultHostname(std::vector<YamlValue>& docs, TalosRelease release, const std::string& name,
                            std::string_view context) {
  if (name.empty()) return Status::Ok();
  YamlValue* hostname_doc = FindKind(docs, "HostnameConfig");
  YamlValue* v1alpha1 = FindV1Alpha1(docs);
  const YamlValue* machine = v1alpha1 != nullptr ? v1alpha1->Find("machine") : nullptr;
  const YamlValue* network = machine != nullptr && machine->is_map() ? machine->Find("network") : nullptr;
  if (network != nullptr && network->is_map() && !IsUnset(network->Find("hostname"))) return Status::Ok();
  if (hostname_doc != nullptr && !IsUnset(hostname_doc->Find("hostname"))) return Status::Ok();
  // A HostnameConfig beside v1alpha1's stableHostname is refused by Talos
  // ("stable hostname is already set in v1alpha1 config").
  const YamlValue* features = machine != nullptr && machine->is_map() ? machine->Find("features") : nullptr;
  const YamlValue* stable = features != nullptr && features->is_map() ? features->Find("stableHostname") : nullptr;
  const bool stable_v1alpha1 = stable != nullptr && ResolveScalar(*stable) == YamlScalarType::kBool &&
                               (stable->text() == "true" || stable->text() == "True" || stable->text() == "TRUE");
  if (hostname_doc == nullptr && (!release.AtLeast(1, 12) || stable_v1alpha1)) {
    auto net = MapPath(V1Alpha1(docs), {"machine", "network"}, context);
    if (!net.ok()) return net.status();
    (*net)->Set("hostname", YamlValue::String(name));
    return Status::Ok();
  }
  if (hostname_doc == nullptr) {
    docs.push_back(NewDocument("HostnameConfig"));
    hostname_doc = &docs.back();
  }
  // Quoted: YAML 1.1 readers take a plain `off` for false.
  hostname_doc->Set("auto", YamlValue::String("off"));
  hostname_doc->Set("hostname", YamlValue::String(name));
  return Status::Ok();
}

}  // namespace metalpxe
