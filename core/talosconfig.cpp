#include "core/talosconfig.h"

#include <algorithm>

#include "core/x509_pem.h"
#include "core/yaml_fields.h"

namespace metalpxe {
namespace {

// One base64 PEM field (ca, crt, key) decoded; a problem at its value otherwise.
std::optional<std::string> DecodedField(MapReader& r, std::string_view key) {
  auto text = r.String(key);
  if (!text || text->empty()) return std::nullopt;
  auto decoded = DecodeBase64(*text);
  if (!decoded) {
    r.sink().Add(r.Raw(key), r.Field(key) + ": " + decoded.status().message() +
                                 " (talosctl writes base64-encoded PEM here)");
    return std::nullopt;
  }
  return std::move(*decoded);
}

// The context's credentials: every field present, parsing, and belonging together.
void ReadCredentials(MapReader& r, TalosCredentials& out) {
  std::string missing;
  for (const char* key : {"ca", "crt", "key"}) {
    const YAML::Node v = r.Raw(key);
    if (!v.IsDefined() || v.IsNull() || (v.IsScalar() && v.Scalar().empty()))
      missing += (missing.empty() ? "" : ", ") + std::string(key);
  }
  if (!missing.empty()) {
    const bool omni = r.node()["auth"].IsDefined();
    r.sink().Add(r.node(), r.what() + " has no client credentials (" + missing + " missing)" +
                               (omni ? ": it authenticates through `auth` (Omni, SideroLink), which metalpxe cannot use"
                                     : "") +
                               "; use the talosconfig that `talosctl gen config` wrote");
    return;
  }
  const std::size_t before = r.sink().count();
  auto ca = DecodedField(r, "ca");
  auto crt = DecodedField(r, "crt");
  auto key = DecodedField(r, "key");
  if (ca) {
    if (auto certs = CertificatesDer(*ca); !certs)
      r.sink().Add(r.Raw("ca"), r.Field("ca") + ": " + certs.status().message());
    else
      out.ca_pem = std::move(*ca);
  }
  if (crt) {
    if (auto roles = CertificateOrganizations(*crt); !roles) {
      r.sink().Add(r.Raw("crt"), r.Field("crt") + ": " + roles.status().message());
    } else {
      out.crt_pem = std::move(*crt);
      out.roles = std::move(*roles);
    }
  }
  if (key) {
    auto pkcs8 = PrivateKeyToPkcs8Pem(*key);
    std::fill(key->begin(), key->end(), '\0');
    if (!pkcs8)
      r.sink().Add(r.Raw("key"), r.Field("key") + ": " + pkcs8.status().message());
    else
      out.key_pem = std::move(*pkcs8);
  }
  if (r.sink().count() != before) return;
  if (!CertificateSignedBy(out.crt_pem, out.ca_pem).ok())
    r.sink().Add(r.Raw("crt"), r.Field("crt") + ": the client certificate is not signed by " + r.Field("ca"));
  if (auto st = KeyMatchesCertificate(out.key_pem.Reveal(), out.crt_pem); !st.ok())
    r.sink().Add(r.Raw("key"), r.Field("key") + ": " + st.message() + " (" + r.Field("crt") + ")");
}

}  // namespace

bool TalosCredentials::HasRole(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

TalosconfigParse ParseTalosconfig(std::string_view text, const std::string& file, std::string_view context) {
  TalosconfigParse out;
  ProblemSink sink(file, &out.problems);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    sink.Add(e.mark, "YAML syntax error: " + e.msg);
    return out;
  }
  if (!root.IsMap()) {
    sink.Add(root, "a talosconfig must be a map with context and contexts, not " + DescribeYamlType(root));
    return out;
  }
  MapReader top(sink, root, "");
  std::string name(context);
  if (name.empty()) {
    auto v = top.String("context", true);
    if (!v) return out;
    name = *v;
  }
  YAML::Node contexts = top.Raw("contexts");
  if (!contexts.IsMap()) {
    sink.Add(contexts.IsDefined() ? contexts.Mark() : root.Mark(),
             "contexts must be a map of context name to context, not " + DescribeYamlType(contexts));
    return out;
  }
  YAML::Node selected;
  YAML::Mark selected_at;
  bool found = false;  // (a default YAML::Node counts as defined)
  std::string names;
  for (const auto& kv : contexts) {
    if (!kv.first.IsScalar()) continue;
    names += (names.empty() ? "" : ", ") + kv.first.Scalar();
    if (kv.first.Scalar() == name) {
      selected = kv.second;
      selected_at = kv.first.Mark();
      found = true;
    }
  }
  if (!found) {
    sink.Add(context.empty() ? top.Raw("context").Mark() : top.KeyMark("contexts"),
             "context '" + name + "' is not one of contexts (" + (names.empty() ? "none" : names) + ")");
    return out;
  }
  MapReader r(sink, selected, "contexts." + name);
  if (!r.is_map()) {
    if (selected.IsNull()) sink.Add(selected_at, "contexts." + name + " is empty: it needs endpoints, ca, crt and key");
    return out;
  }
  TalosCredentials creds;
  creds.context = name;
  if (auto v = r.StringList("endpoints")) creds.endpoints = *v;
  if (auto v = r.StringList("nodes")) creds.nodes = *v;
  ReadCredentials(r, creds);
  if (out.problems.empty()) out.credentials = std::move(creds);
  return out;
}

}  // namespace metalpxe
