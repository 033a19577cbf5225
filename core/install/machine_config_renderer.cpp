#include "core/install/machine_config_renderer.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <vector>

#include "core/install/strategic_merge.h"
#include "core/install/yaml_tree.h"
#include "core/install/yaml_writer.h"

namespace metalpxe {
namespace {

// Base configs are a few tens of KiB; anything this large is a wrong path.
constexpr std::streamsize kMaxBaseConfigBytes = 4 << 20;

// Patches live in the shared AppConfig as yaml-cpp nodes, and yaml-cpp
// updates internal bookkeeping even on reads; renders run on several HTTP
// threads, so reads of shared nodes take turns.
std::mutex g_shared_node_read;

Result<std::string> ReadBaseConfig(const std::string& path, std::string_view context) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return Status(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kUnavailable,
                  std::string(context) + ": cannot read base config " + path + ": " + std::strerror(err));
  }
  std::string text;
  char buffer[16384];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (static_cast<std::streamsize>(text.size()) > kMaxBaseConfigBytes) {
      return Status(ErrorCode::kInvalidArgument,
                    std::string(context) + ": base config " + path + " is larger than 4 MiB");
    }
  }
  if (in.bad()) {
    return Status(ErrorCode::kUnavailable, std::string(context) + ": error reading base config " + path);
  }
  return text;
}

const YamlValue* ScalarField(const YamlValue& doc, std::string_view key) {
  const YamlValue* v = doc.is_map() ? doc.Find(key) : nullptr;
  return v != nullptr && v->is_scalar() ? v : nullptr;
}

std::string FieldText(const YamlValue& doc, std::string_view key) {
  const YamlValue* v = ScalarField(doc, key);
  return v == nullptr ? std::string() : v->text();
}

bool IsTyped(const YamlValue& doc) { return doc.is_map() && doc.Find("apiVersion") && doc.Find("kind"); }

bool IsV1Alpha1(const YamlValue& doc) {
  if (!doc.is_map() || IsTyped(doc)) return false;
  return FieldText(doc, "version") == "v1alpha1" || doc.Find("machine") != nullptr;
}

std::optional<std::size_t> FindV1Alpha1(const std::vector<YamlValue>& docs) {
  for (std::size_t i = 0; i < docs.size(); ++i) {
    if (IsV1Alpha1(docs[i])) return i;
  }
  return std::nullopt;
}

bool SameDocument(const YamlValue& a, const YamlValue& b) {
  return FieldText(a, "apiVersion") == FieldText(b, "apiVersion") && FieldText(a, "kind") == FieldText(b, "kind") &&
         FieldText(a, "name") == FieldText(b, "name");
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

class Render {
 public:
  Render(const AppConfig& app, const MachineConfig& machine) : app_(app), machine_(machine) {
    context_ = "machine '" + machine.name + "'";
  }

  Result<std::string> Run() {
    const std::string profile_name = machine_.profile.empty() ? app_.boot.default_profile : machine_.profile;
    auto profile_it = app_.profiles.find(profile_name);
    if (profile_it == app_.profiles.end()) {
      return Status(ErrorCode::kNotFound, context_ + ": profile '" + profile_name + "' is not defined");
    }
    const ProfileConfig& profile = profile_it->second;
    auto config_it = profile.configs.find(machine_.role);
    if (config_it == profile.configs.end() || config_it->second.empty()) {
      return Status(ErrorCode::kFailedPrecondition, context_ + ": profile '" + profile_name + "' names no " +
                                                        std::string(RoleName(machine_.role)) + " config");
    }
    const std::string& base_path = config_it->second;

    auto text = ReadBaseConfig(base_path, context_);
    if (!text.ok()) return text.status();
    auto docs = ParseYamlDocuments(*text, base_path);
    if (!docs.ok()) return docs.status();
    docs_ = std::move(docs).value();
    if (!FindV1Alpha1(docs_)) {
      return Status(ErrorCode::kInvalidArgument, base_path + " holds no v1alpha1 machine config document");
    }

    for (std::size_t i = 0; i < profile.patches.size(); ++i) {
      const std::string label = "profile '" + profile_name + "' patch " + std::to_string(i + 1);
      if (Status s = ApplyNodePatch(profile.patches[i], label); !s.ok()) return s;
    }
    if (Status s = ApplyShorthands(); !s.ok()) return s;
    for (std::size_t i = 0; i < machine_.patches.size(); ++i) {
      const std::string label = context_ + " patch " + std::to_string(i + 1);
      if (Status s = ApplyNodePatch(machine_.patches[i], label); !s.ok()) return s;
    }
    if (Status s = ApplyDefaults(); !s.ok()) return s;
    return WriteYamlDocuments(docs_);
  }

 private:
  YamlValue& V1Alpha1() { return docs_[*FindV1Alpha1(docs_)]; }

  Status ApplyNodePatch(const YAML::Node& node, const std::string& label) {
    Result<YamlValue> patch = Status();
    {
      std::lock_guard<std::mutex> lock(g_shared_node_read);
      patch = FromYamlCpp(node, label);
    }
    if (!patch.ok()) return patch.status();
    return ApplyPatch(std::move(patch).value(), label);
  }

  Status ApplyPatch(YamlValue patch, const std::string& label) {
    if (!patch.is_map()) {
      return Status(ErrorCode::kInvalidArgument,
                    label + ": a patch must be a map, not " + std::string(patch.KindName()));
    }
    if (!IsTyped(patch)) return ApplyStrategicPatch(V1Alpha1(), std::move(patch), label, MergeRules::kV1Alpha1);

    // A document of its own kind (newer Talos multi-document configs).
    const std::string id = FieldText(patch, "apiVersion") + "/" + FieldText(patch, "kind");
    auto it = std::find_if(docs_.begin(), docs_.end(), [&](const YamlValue& d) { return SameDocument(d, patch); });
    const YamlValue* marker = patch.Find("$patch");
    if (marker != nullptr && marker->is_scalar() && marker->text() == "delete") {
      if (it == docs_.end()) {
        return Status(ErrorCode::kInvalidArgument, label + ": `$patch: delete` of document " + id +
                                                       ": no such document");
      }
      docs_.erase(it);
      return Status::Ok();
    }
    if (it == docs_.end()) {
      docs_.push_back(YamlValue::Map());
      it = docs_.end() - 1;
    }
    return ApplyStrategicPatch(*it, std::move(patch), label, MergeRules::kGeneric);
  }

  const SubnetConfig* SubnetOf(Ipv4Address ip) const {
    for (const auto& subnet : app_.dhcp.subnets) {
      if (subnet.subnet.Contains(ip)) return &subnet;
    }
    return nullptr;
  }

  Status ApplyShorthands() {
    if (!machine_.install_disk.empty()) {
      YamlValue patch = YamlValue::Map();
      patch.MapAt("machine").MapAt("install").Set("disk", YamlValue::String(machine_.install_disk));
      if (Status s = ApplyPatch(std::move(patch), context_ + " installDisk"); !s.ok()) return s;
    }
    if (machine_.ip) return ApplyStaticIp(*machine_.ip);
    return Status::Ok();
  }

  Status ApplyStaticIp(Ipv4Address ip) {
    if (machine_.macs.empty()) {
      return Status(ErrorCode::kFailedPrecondition, context_ + ": a static ip needs a MAC to select the interface");
    }
    const SubnetConfig* subnet = SubnetOf(ip);
    const int prefix = subnet != nullptr ? subnet->subnet.prefix_length : 24;

    YamlValue device = YamlValue::Map();
    device.MapAt("deviceSelector").Set("hardwareAddr", YamlValue::String(machine_.macs.front().ToString()));
    YamlValue addresses = YamlValue::Seq();
    addresses.items().push_back(YamlValue::String(ip.ToString() + "/" + std::to_string(prefix)));
    device.Set("addresses", std::move(addresses));
    if (subnet != nullptr && subnet->router) {
      YamlValue route = YamlValue::Map();
      route.Set("network", YamlValue::String("0.0.0.0/0"));
      route.Set("gateway", YamlValue::String(subnet->router->ToString()));
      YamlValue routes = YamlValue::Seq();
      routes.items().push_back(std::move(route));
      device.Set("routes", std::move(routes));
    }
    device.Set("dhcp", YamlValue::Plain("false"));

    auto network = MapPath(V1Alpha1(), {"machine", "network"}, context_ + " ip");
    if (!network.ok()) return network.status();
    YamlValue* interfaces = (*network)->Find("interfaces");
    if (interfaces == nullptr || interfaces->is_null()) {
      interfaces = &(*network)->Set("interfaces", YamlValue::Seq());
    }
    if (!interfaces->is_seq()) {
      return Status(ErrorCode::kInvalidArgument, context_ + " ip: machine.network.interfaces is not a list");
    }
    const YamlValue* selector = device.Find("deviceSelector");
    const bool present = std::any_of(interfaces->items().begin(), interfaces->items().end(), [&](const YamlValue& d) {
      const YamlValue* s = d.is_map() ? d.Find("deviceSelector") : nullptr;
      return s != nullptr && SemanticallyEqual(*s, *selector);
    });
    if (present) {
      // Merge into the entry that selects this NIC already (keyed merge).
      YamlValue patch = YamlValue::Map();
      YamlValue list = YamlValue::Seq();
      list.items().push_back(std::move(device));
      patch.MapAt("machine").MapAt("network").Set("interfaces", std::move(list));
      return ApplyPatch(std::move(patch), context_ + " ip");
    }
    interfaces->items().insert(interfaces->items().begin(), std::move(device));
    return Status::Ok();
  }

  // Values that apply only when nothing else set them.
  Status ApplyDefaults() {
    if (machine_.ip) {
      const SubnetConfig* subnet = SubnetOf(*machine_.ip);
      if (subnet != nullptr && !subnet->dns.empty()) {
        auto network = MapPath(V1Alpha1(), {"machine", "network"}, context_ + " ip");
        if (!network.ok()) return network.status();
        const YamlValue* current = (*network)->Find("nameservers");
        if (current == nullptr || current->is_null() || (current->is_seq() && current->items().empty())) {
          YamlValue servers = YamlValue::Seq();
          for (const auto& dns : subnet->dns) servers.items().push_back(YamlValue::String(dns.ToString()));
          (*network)->Set("nameservers", std::move(servers));
        }
      }
    }
    if (!machine_.name.empty()) {
      const bool hostname_document = std::any_of(docs_.begin(), docs_.end(), [](const YamlValue& d) {
        return IsTyped(d) && FieldText(d, "kind") == "HostnameConfig";
      });
      if (!hostname_document) {
        auto network = MapPath(V1Alpha1(), {"machine", "network"}, context_ + " hostname");
        if (!network.ok()) return network.status();
        const YamlValue* current = (*network)->Find("hostname");
        if (current == nullptr || current->is_null() || (current->is_scalar() && current->text().empty())) {
          (*network)->Set("hostname", YamlValue::String(machine_.name));
        }
      }
    }
    return Status::Ok();
  }

  const AppConfig& app_;
  const MachineConfig& machine_;
  std::string context_;
  std::vector<YamlValue> docs_;
};

}  // namespace

Result<std::string> RenderMachineConfig(const AppConfig& app, const MachineConfig& machine) {
  Render render(app, machine);
  return render.Run();
}

}  // namespace metalpxe
