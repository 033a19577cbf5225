#include "core/image_schematic.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <set>
#include <vector>

namespace metalpxe {
namespace {

Status SchematicProblem(const std::string& why) { return {ErrorCode::kInvalidArgument, why}; }

// Strings yaml.v3 writes as plain scalars for certain: no indicator first,
// no ": " or " #", nothing that resolves to another type (yaml.v3 also
// quotes YAML 1.1 booleans such as "yes" and "on").
bool IsCertainlyPlainYaml(const std::string& s) {
  if (s.empty() || s.size() > 1024) return false;
  const char first = s.front();
  const bool first_ok = (first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || first == '_' || first == '/';
  if (!first_ok) return false;  // digits, '-', '.', quotes and indicators are left to the ID
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '/' || c == '.' || c == '-' || c == '=' || c == ',' || c == '+' || c == '@' || c == ':';
    if (!ok) return false;
  }
  if (s.back() == ':' || s.find(": ") != std::string::npos) return false;
  static const std::set<std::string> kResolvesElsewhere = {
      "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
      "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL"};
  return !kResolvesElsewhere.count(s);
}

Result<std::string> SchematicPlainScalar(const YAML::Node& n, const std::string& field) {
  if (!n.IsScalar()) return SchematicProblem(field + " must be a string");
  const std::string& s = n.Scalar();
  if (s.empty()) return std::string("\"\"");
  if (!IsCertainlyPlainYaml(s))
    return SchematicProblem(field + ": '" + s + "' would be quoted by Image Factory's YAML writer; metalpxe cannot "
                            "promise the same schematic ID for it: give `schematic: <id>` from factory.talos.dev");
  return s;
}

Status RejectUnknownSchematicKeys(const YAML::Node& map, const std::string& where,
                                  std::initializer_list<const char*> known) {
  for (const auto& kv : map) {
    const std::string key = kv.first.Scalar();
    bool ok = false;
    for (const char* k : known) ok |= key == k;
    if (!ok) return SchematicProblem(where + ": unknown field '" + key + "' (Image Factory refuses it too)");
  }
  return Status::Ok();
}

Result<std::vector<std::string>> SchematicPlainList(const YAML::Node& n, const std::string& field) {
  std::vector<std::string> out;
  if (!n || n.IsNull()) return out;
  if (!n.IsSequence()) return SchematicProblem(field + " must be a list");
  for (std::size_t i = 0; i < n.size(); ++i) {
    auto s = SchematicPlainScalar(n[i], field + "[" + std::to_string(i) + "]");
    if (!s.ok()) return s.status();
    out.push_back(*s);
  }
  return out;
}

Result<std::string> OverlayText(const YAML::Node& o) {
  if (!o || o.IsNull()) return std::string();
  if (!o.IsMap()) return SchematicProblem("overlay must be a map");
  if (Status s = RejectUnknownSchematicKeys(o, "overlay", {"image", "name", "options"}); !s.ok()) return s;
  if (o["options"] && !o["options"].IsNull() && o["options"].size() > 0)
    return SchematicProblem("overlay.options: metalpxe cannot promise Image Factory's rendering of free-form "
                            "options: give `schematic: <id>` from factory.talos.dev");
  std::string image, name;
  if (o["image"]) {
    auto v = SchematicPlainScalar(o["image"], "overlay.image");
    if (!v.ok()) return v.status();
    image = *v;
  }
  if (o["name"]) {
    auto v = SchematicPlainScalar(o["name"], "overlay.name");
    if (!v.ok()) return v.status();
    name = *v;
  }
  if (image.empty() && name.empty()) return std::string();  // the zero Overlay: omitted
  return "overlay:\n    image: " + (image.empty() ? "\"\"" : image) + "\n    name: " + (name.empty() ? "\"\"" : name) +
         "\n";
}

Result<std::string> MetaText(const YAML::Node& meta) {
  if (!meta || meta.IsNull()) return std::string();
  if (!meta.IsSequence()) return SchematicProblem("customization.meta must be a list");
  std::string out;
  for (std::size_t i = 0; i < meta.size(); ++i) {
    const std::string where = "customization.meta[" + std::to_string(i) + "]";
    const YAML::Node& m = meta[i];
    if (!m.IsMap()) return SchematicProblem(where + " must be a map with key and value");
    if (Status s = RejectUnknownSchematicKeys(m, where, {"key", "value"}); !s.ok()) return s;
    unsigned key = 0;
    try {
      key = m["key"].as<unsigned>();
    } catch (const YAML::Exception&) {
      return SchematicProblem(where + ".key must be a number 0..255");
    }
    if (key > 255) return SchematicProblem(where + ".key must be a number 0..255");
    auto value = m["value"] ? SchematicPlainScalar(m["value"], where + ".value") : Result<std::string>(std::string("\"\""));
    if (!value.ok()) return value.status();
    out += "        - key: " + std::to_string(key) + "\n          value: " + *value + "\n";
  }
  return out.empty() ? out : "    meta:\n" + out;
}

std::string SchematicListItems(const std::vector<std::string>& items, const std::string& indent) {
  std::string out;
  for (const auto& s : items) out += indent + "- " + s + "\n";
  return out;
}

Result<std::string> CustomizationText(const YAML::Node& c) {
  if (c && !c.IsNull() && !c.IsMap()) return SchematicProblem("customization must be a map");
  std::string body;
  if (c && c.IsMap()) {
    if (Status s = RejectUnknownSchematicKeys(c, "customization",
                                              {"extraKernelArgs", "meta", "systemExtensions", "secureboot"});
        !s.ok())
      return s;
    auto args = SchematicPlainList(c["extraKernelArgs"], "customization.extraKernelArgs");
    if (!args.ok()) return args.status();
    if (!args->empty()) body += "    extraKernelArgs:\n" + SchematicListItems(*args, "        ");
    auto meta = MetaText(c["meta"]);
    if (!meta.ok()) return meta.status();
    body += *meta;
    const YAML::Node ext = c["systemExtensions"];
    if (ext && !ext.IsNull()) {
      if (!ext.IsMap()) return SchematicProblem("customization.systemExtensions must be a map");
      if (Status s = RejectUnknownSchematicKeys(ext, "customization.systemExtensions", {"officialExtensions"}); !s.ok())
        return s;
      auto official = SchematicPlainList(ext["officialExtensions"], "customization.systemExtensions.officialExtensions");
      if (!official.ok()) return official.status();
      if (!official->empty())
        body += "    systemExtensions:\n        officialExtensions:\n" + SchematicListItems(*official, "            ");
    }
    const YAML::Node sb = c["secureboot"];
    if (sb && !sb.IsNull()) {
      if (!sb.IsMap()) return SchematicProblem("customization.secureboot must be a map");
      if (Status s = RejectUnknownSchematicKeys(sb, "customization.secureboot", {"includeWellKnownCertificates"});
          !s.ok())
        return s;
      bool include = false;
      try {
        include = sb["includeWellKnownCertificates"] && sb["includeWellKnownCertificates"].as<bool>();
      } catch (const YAML::Exception&) {
        return SchematicProblem("customization.secureboot.includeWellKnownCertificates must be true or false");
      }
      if (include) body += "    secureboot:\n        includeWellKnownCertificates: true\n";
    }
  }
  return body.empty() ? std::string("customization: {}\n") : "customization:\n" + body;
}

}  // namespace

Result<std::string> CanonicalSchematicYaml(std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return SchematicProblem("is not YAML: " + e.msg + " (line " + std::to_string(e.mark.line + 1) + ")");
  }
  if (root.IsNull() || !root.IsDefined()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) return SchematicProblem("must be a map with customization (and overlay)");
  if (Status s = RejectUnknownSchematicKeys(root, "schematic", {"overlay", "customization"}); !s.ok()) return s;
  try {
    auto overlay = OverlayText(root["overlay"]);
    if (!overlay.ok()) return overlay.status();
    auto customization = CustomizationText(root["customization"]);
    if (!customization.ok()) return customization.status();
    return *overlay + *customization;
  } catch (const YAML::Exception& e) {
    return SchematicProblem(std::string("is not a schematic: ") + e.what());
  }
}

Result<std::string> SchematicIdOf(std::string_view text) {
  auto canonical = CanonicalSchematicYaml(text);
  if (!canonical.ok()) return canonical.status();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(canonical->data(), canonical->size(), digest, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string id;
  for (unsigned int i = 0; i < len; ++i) {
    id += hex[digest[i] >> 4];
    id += hex[digest[i] & 15];
  }
  return id;
}

}  // namespace metalpxe
