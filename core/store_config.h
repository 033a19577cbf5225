#pragma once
// The `store:` section of the appliance config (docs/config.md "store"): where
// the appliance keeps its durable state. `sqlite` (the default) is one file
// in stateDir; `etcd` is a cluster several appliances share, reached through
// `endpoints` (http:// or https:// URLs), with an optional CA, client
// certificate and key, and a key prefix so several installations can share
// one cluster. Parsed in its own file so the loader only calls it.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace metalpxe {

class MapReader;

enum class StoreType { kSqlite, kEtcd };
std::string_view StoreTypeName(StoreType t);  // "sqlite" | "etcd"

// One etcd client URL, e.g. https://10.0.0.5:2379.
struct EtcdEndpoint {
  bool tls = false;   // https
  std::string host;   // name, IPv4 address, or IPv6 address without brackets
  std::uint16_t port = 2379;
  std::string url;    // as written, for messages

  // "host:port" (IPv6 in brackets): what gRPC dials.
  std::string Target() const;
  bool operator==(const EtcdEndpoint&) const = default;
};

// Strict: scheme http or https, a host, an optional port (default 2379), an
// optional "/" path and nothing else (no user info, query or fragment).
Result<EtcdEndpoint> ParseEtcdEndpoint(std::string_view url);

struct StoreConfig {
  StoreType type = StoreType::kSqlite;
  std::vector<EtcdEndpoint> endpoints;  // etcd only; all http or all https
  std::string prefix = "/metalpxe/";    // every key starts with it; ends with '/'
  std::string ca_file;                  // absolute paths; empty when not given
  std::string cert_file;
  std::string key_file;

  bool tls() const { return !endpoints.empty() && endpoints.front().tls; }
  bool operator==(const StoreConfig&) const = default;
};

// Reads `store:` (absent: the SQLite default) into `out`; every problem goes
// to the reader's sink with its line and column. Relative certificate paths
// are resolved against base_dir.
void ReadStoreSection(MapReader r, const std::string& base_dir, StoreConfig& out);

}  // namespace metalpxe
