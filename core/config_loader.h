#pragma once
// Reads and validates the appliance config and its inventory (docs/config.md).
// Validation collects every problem with its file, line and column instead of
// stopping at the first, so `metalpxed --check-config` can list them all.
#include <memory>
#include <string>

#include "core/config.h"
#include "core/config_problem.h"

namespace metalpxe {

struct LoadedConfig {
  std::shared_ptr<AppConfig> config;  // set only when problems is empty
  ConfigProblems problems;
  bool ok() const { return problems.empty() && config != nullptr; }
};

// Loads `path` (and the inventory file it names). Relative paths inside are
// resolved against the directory of the file that names them. Secrets
// (BMC passwords) are read from their files/environment here.
LoadedConfig LoadAppConfig(const std::string& path);

// What a reload may change while the daemon runs: profiles, boot policy and
// the inventory. Server and DHCP settings own sockets and leases and need a
// restart; `restart_needed` lists the sections whose change was not applied.
struct ReloadedConfig {
  std::shared_ptr<AppConfig> config;
  ConfigProblems problems;
  std::vector<std::string> restart_needed;
  bool ok() const { return problems.empty() && config != nullptr; }
};
ReloadedConfig ReloadAppConfig(const AppConfig& running);

// Machines accepted through the management API (inventory YAML form).
std::string AcceptedMachinesFile(const ServerConfig& server);

}  // namespace metalpxe
