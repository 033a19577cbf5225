#pragma once
// The boot path's HTTP endpoints (CONFIG.md): /boot.ipxe, /ipxe and
// /config/<token>. Thin adapters: the decision is pxe/boot_decision, the
// machine's state is core's MachineRegistry, configs come from
// core/install. Handlers run on HTTP worker threads; everything they touch is
// thread-safe, and nothing on this path waits for a disk.
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>

#include "core/config_source.h"
#include "core/install/config_tokens.h"
#include "core/machine_registry.h"
#include "http/http_server.h"

namespace metalpxe::http {

struct BootEndpointCounters {
  std::atomic<std::uint64_t> scripts{0};           // /ipxe answers
  std::atomic<std::uint64_t> install_scripts{0};
  std::atomic<std::uint64_t> configs_served{0};
  std::atomic<std::uint64_t> configs_refused{0};
  std::atomic<std::uint64_t> configs_failed{0};    // rendering failed (500)
};

// What the reinstall orchestration wants to know of the boot path.
struct BootHooks {
  std::function<bool(const MacAddress&)> wipe_requested;      // add talos.experimental.wipe=system
  std::function<void(const MacAddress&)> installer_served;    // the machine is back in the installer
};

class BootEndpoints {
 public:
  // Seconds an unknown machine waits before asking again.
  static constexpr int kDiscoverRetrySeconds = 15;

  BootEndpoints(const ConfigSource& config, MachineRegistry& registry, ConfigTokenIssuer& tokens,
                BootHooks hooks = {});

  void Register(HttpServer& server);

  HttpResponse ChainScript(const HttpRequest& req) const;
  HttpResponse MachineScript(const HttpRequest& req);
  HttpResponse MachineConfigFile(const HttpRequest& req);

  const BootEndpointCounters& counters() const { return counters_; }

 private:
  const ConfigSource& config_;
  MachineRegistry& registry_;
  ConfigTokenIssuer& tokens_;
  BootHooks hooks_;
  BootEndpointCounters counters_;
};

// The machine a MAC installs as: its inventory entry, or under policy
// auto-install a machine made from boot.defaultRole/defaultProfile.
std::optional<MachineConfig> MachineToInstall(const AppConfig& config, const MacAddress& mac);

}  // namespace metalpxe::http
