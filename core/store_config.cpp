#include "core/store_config.h"

#include <algorithm>
#include <cctype>

#include "core/config_paths.h"
#include "core/net_types.h"
#include "core/yaml_fields.h"

namespace metalpxe {
namespace {

bool IsHostNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
}

// An IPv6 literal as it may appear inside [...]: hex digits, ':' and '.'
// (an embedded IPv4 tail). getaddrinfo has the last word when dialling.
bool LooksLikeIpv6(std::string_view s) {
  return !s.empty() && s.find(':') != std::string_view::npos &&
         std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'; });
}

Status Bad(std::string_view url, const std::string& why) {
  return Status(ErrorCode::kInvalidArgument, "'" + std::string(url) + "' is not an etcd URL: " + why);
}

// What a PEM file must hold to be worth handing to the TLS library. The real
// parse happens when the client starts; this catches the common mistakes
// (the key given as the certificate, a DER file, an empty file) early.
std::string WhyNotPem(const std::string& text, bool want_key) {
  if (want_key) {
    if (text.find("-----BEGIN") == std::string::npos || text.find("PRIVATE KEY-----") == std::string::npos)
      return "holds no PEM private key (-----BEGIN ... PRIVATE KEY-----)";
    return "";
  }
  if (text.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
    return "holds no PEM certificate (-----BEGIN CERTIFICATE-----)";
  return "";
}

void ReadPemFile(MapReader& r, std::string_view key, bool want_key, const std::string& base_dir, std::string& out) {
  auto v = r.String(key);
  if (!v) return;
  if (v->empty()) {
    r.sink().Add(r.Raw(key), r.Field(key) + " is empty");
    return;
  }
  const std::string path = ResolvePath(*v, base_dir);
  std::string text, error;
  if (!ReadWholeFile(path, &text, &error)) {
    r.sink().Add(r.Raw(key), r.Field(key) + ": " + path + " " + error);
    return;
  }
  if (auto why = WhyNotPem(text, want_key); !why.empty()) {
    r.sink().Add(r.Raw(key), r.Field(key) + ": " + path + " " + why);
    return;
  }
  out = path;
}

void ReadEndpoints(MapReader& r, StoreConfig& out) {
  YAML::Node list = r.Raw("endpoints");
  if (!list.IsDefined() || list.IsNull()) {
    r.sink().Add(r.node(), r.Field("endpoints") + " is required with type etcd (e.g. [https://10.0.0.5:2379])");
    return;
  }
  if (!list.IsSequence() || list.size() == 0) {
    r.sink().Add(list, r.Field("endpoints") + " must be a non-empty list of etcd URLs, not " + DescribeYamlType(list));
    return;
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string field = r.Field("endpoints") + "[" + std::to_string(i) + "]";
    if (!list[i].IsScalar()) {
      r.sink().Add(list[i], field + " must be a URL, not " + DescribeYamlType(list[i]));
      continue;
    }
    auto ep = ParseEtcdEndpoint(list[i].Scalar());
    if (!ep.ok()) {
      r.sink().Add(list[i], field + ": " + ep.status().message());
      continue;
    }
    if (!out.endpoints.empty() && ep->tls != out.endpoints.front().tls) {
      r.sink().Add(list[i], field + ": mixes http and https; every endpoint of one cluster uses the same scheme");
      continue;
    }
    if (std::find(out.endpoints.begin(), out.endpoints.end(), *ep) != out.endpoints.end()) {
      r.sink().Add(list[i], field + ": " + ep->url + " is listed twice");
      continue;
    }
    out.endpoints.push_back(std::move(ep).value());
  }
}

void ReadPrefix(MapReader& r, StoreConfig& out) {
  auto v = r.String("prefix");
  if (!v) return;
  const bool printable = std::all_of(v->begin(), v->end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  if (v->empty() || (*v)[0] != '/' || !printable || v->size() > 200) {
    r.sink().Add(r.Raw("prefix"), r.Field("prefix") + ": '" + *v +
                                      "' must start with '/' and hold printable characters without spaces "
                                      "(e.g. /metalpxe/)");
    return;
  }
  // Always a directory-like prefix, so /metalpxe and /metalpxe2 never share keys.
  out.prefix = v->back() == '/' ? *v : *v + "/";
}

void ReadEtcd(MapReader& r, const std::string& base_dir, StoreConfig& out) {
  ReadEndpoints(r, out);
  ReadPrefix(r, out);
  ReadPemFile(r, "ca", false, base_dir, out.ca_file);
  ReadPemFile(r, "cert", false, base_dir, out.cert_file);
  ReadPemFile(r, "key", true, base_dir, out.key_file);
  if (r.Has("cert") != r.Has("key")) {
    const std::string given = r.Has("cert") ? "cert" : "key";
    r.sink().Add(r.KeyMark(given), r.Field(given) + " needs " + r.Field(given == "cert" ? "key" : "cert") +
                                       " too (a client certificate and its key go together)");
  }
  if (!out.endpoints.empty() && !out.endpoints.front().tls) {
    for (const char* key : {"ca", "cert", "key"}) {
      if (r.Has(key))
        r.sink().Add(r.KeyMark(key), r.Field(key) + " is only used over TLS: the endpoints are http://, use https://");
    }
  }
}

}  // namespace

std::string_view StoreTypeName(StoreType t) { return t == StoreType::kEtcd ? "etcd" : "sqlite"; }

std::string EtcdEndpoint::Target() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<EtcdEndpoint> ParseEtcdEndpoint(std::string_view url) {
  EtcdEndpoint ep;
  ep.url = std::string(url);
  std::string_view rest;
  if (url.substr(0, 8) == "https://") {
    ep.tls = true;
    rest = url.substr(8);
  } else if (url.substr(0, 7) == "http://") {
    rest = url.substr(7);
  } else {
    return Bad(url, "it must start with http:// or https://");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@ ") != std::string_view::npos)
    return Bad(url, "only scheme://host[:port] is allowed (no path, query, user or spaces)");
  std::string_view host = rest, port;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return Bad(url, "unclosed [ in an IPv6 address");
    host = rest.substr(1, close - 1);
    if (!LooksLikeIpv6(host)) return Bad(url, "'" + std::string(host) + "' is not an IPv6 address");
    const auto after = rest.substr(close + 1);
    if (!after.empty() && after.front() != ':') return Bad(url, "junk after the IPv6 address");
    if (!after.empty()) port = after.substr(1);
    if (after == ":") return Bad(url, "empty port");
  } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (port.empty()) return Bad(url, "empty port");
  }
  if (host.empty()) return Bad(url, "no host");
  if (!LooksLikeIpv6(host) && !std::all_of(host.begin(), host.end(), IsHostNameChar))
    return Bad(url, "'" + std::string(host) + "' is not a host name or address");
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return Bad(url, "port '" + std::string(port) + "' is not a number");
    const long p = std::stol(std::string(port));
    if (p < 1 || p > 65535) return Bad(url, "port " + std::string(port) + " is out of range");
    ep.port = static_cast<std::uint16_t>(p);
  }
  ep.host = std::string(host);
  return ep;
}

void ReadStoreSection(MapReader r, const std::string& base_dir, StoreConfig& out) {
  if (!r.is_map()) return;  // absent: SQLite in stateDir; a non-map was reported by MapReader
  const auto type = r.Enum<StoreType>("type", {{"sqlite", StoreType::kSqlite}, {"etcd", StoreType::kEtcd}});
  constexpr const char* kEtcdKeys[] = {"endpoints", "prefix", "ca", "cert", "key"};
  if (type) out.type = *type;
  if (r.Has("type") && !type) {
    // The bad type is reported; its etcd keys are not "unknown" on top of that.
    for (const char* key : kEtcdKeys) (void)r.Raw(key);
  } else if (out.type == StoreType::kEtcd) {
    ReadEtcd(r, base_dir, out);
  } else {
    // The etcd keys mean nothing to SQLite: most likely `type: etcd` was forgotten.
    for (const char* key : kEtcdKeys) {
      if (!r.Has(key)) continue;
      (void)r.Raw(key);
      r.sink().Add(r.KeyMark(key), r.Field(key) + " applies to type etcd only (store.type is " +
                                       std::string(type ? "sqlite" : "not set, so sqlite") + ")");
    }
  }
  r.RejectUnknownKeys();
}

}  // namespace metalpxe
