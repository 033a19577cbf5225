#pragma once
// The store the appliance config asks for (`store:` section): SqliteStore in
// stateDir by default, EtcdStore on the configured cluster otherwise. One
// call for the daemon, so it never needs to know which one it runs on.
#include <memory>

#include "core/config.h"
#include "core/result.h"
#include "core/store.h"

namespace metalpxe::etcd {

struct OpenedStore {
  std::unique_ptr<Store> store;
  std::string description;  // for the start-up log: "sqlite /var/lib/metalpxe/metalpxe.db" / "etcd https://... prefix /metalpxe/"
};

Result<OpenedStore> OpenConfiguredStore(const AppConfig& config);

}  // namespace metalpxe::etcd
