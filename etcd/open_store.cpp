#include "etcd/open_store.h"

#include "core/store/sqlite_store.h"
#include "etcd/etcd_store.h"

namespace metalpxe::etcd {

Result<OpenedStore> OpenConfiguredStore(const AppConfig& config) {
  const auto& sc = config.store;
  if (sc.type == StoreType::kSqlite) {
    auto s = SqliteStore::Open(config.server.state_dir);
    if (!s.ok()) return s.status();
    OpenedStore out;
    out.description = "sqlite " + (*s)->path();
    out.store = std::move(s).value();
    return out;
  }
  auto options = ClientOptionsFromConfig(sc);
  if (!options.ok()) return options.status();
  auto client = EtcdClient::Create(std::move(options).value());
  if (!client.ok()) return client.status();
  auto s = EtcdStore::Open(std::move(client).value(), sc.prefix);
  if (!s.ok()) return s.status();
  OpenedStore out;
  out.description = "etcd";
  for (const auto& ep : sc.endpoints) out.description += " " + ep.url;
  out.description += ", prefix " + sc.prefix;
  out.store = std::move(s).value();
  return out;
}

}  // namespace metalpxe::etcd
