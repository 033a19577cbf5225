#include "daemon/appliance.h"

#include <csignal>
#include <filesystem>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/config_loader.h"
#include "core/config_source.h"
#include "core/log.h"
#include "daemon/appliance_modules.h"
#include "daemon/config_reloader.h"
#include "daemon/service_notifier.h"

namespace metalpxe {

int RunAppliance(const std::string& config_path) {
  LoadedConfig loaded = LoadAppConfig(config_path);
  if (!loaded.ok()) {
    (void)InitLogging("info");
    for (const auto& p : loaded.problems) spdlog::critical("{}", p.ToString());
    spdlog::critical("{} problem(s) in {}; not starting", loaded.problems.size(), config_path);
    return 1;
  }
  if (auto st = InitLogging(loaded.config->server.log_level); !st.ok()) {
    spdlog::critical("{}", st.ToString());
    return 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(loaded.config->server.state_dir, ec);
  if (ec) {
    spdlog::critical("cannot create stateDir {}: {}", loaded.config->server.state_dir, ec.message());
    return 1;
  }

  SwappableConfigSource source(loaded.config);
  boost::asio::io_context io;
  // Signals first: a SIGTERM that arrives while modules start is queued and
  // handled as a clean shutdown once the loop runs, not the default kill.
  boost::asio::signal_set stop_signals(io, SIGTERM, SIGINT);
  boost::asio::signal_set hup(io, SIGHUP);

  ServiceNotifier notifier(io);
  ApplianceModules modules(io, source);
  ConfigReloader reloader(source, [&](const AppConfig& fresh) {
    modules.OnConfigReloaded(fresh);
    notifier.Status(ServiceStatusLine(fresh));
  });
  reloader.SetAdjust([&](AppConfig& fresh) { modules.PinVersions(fresh); });
  modules.SetReload([&] { return reloader.Reload("machine accepted"); });
  if (auto st = modules.Start(); !st.ok()) {
    spdlog::critical("cannot start: {}", st.ToString());
    notifier.Status("cannot start: " + st.ToString());  // systemd then sees the exit code
    modules.Stop();
    return 1;
  }

  ConfigFileWatcher watcher(io, {loaded.config->file, loaded.config->inventory_file},
                            [&] { reloader.Reload("file changed"); });
  if (auto st = watcher.Start(); !st.ok()) spdlog::warn("config file watch disabled: {}", st.ToString());

  std::function<void()> wait_hup = [&] {
    hup.async_wait([&](boost::system::error_code e, int) {
      if (e) return;
      // systemctl reload (ExecReload sends SIGHUP): RELOADING=1 ... READY=1.
      notifier.Reloading();
      reloader.Reload("SIGHUP");
      notifier.Ready(ServiceStatusLine(*source.Current()));
      wait_hup();
    });
  };
  wait_hup();
  stop_signals.async_wait([&](boost::system::error_code e, int sig) {
    if (e) return;
    spdlog::info("signal {}: shutting down", sig);
    notifier.Stopping("stopping: closing listeners, flushing the store");
    watcher.Stop();
    hup.cancel();
    modules.Stop();  // closes sockets; the store flushes every pending write
    io.stop();
  });

  spdlog::info("metalpxed {} running: {} machines in the inventory, dhcp {}, http {}:{}", kVersion,
               loaded.config->inventory->machines.size(), DhcpModeName(loaded.config->dhcp.mode),
               loaded.config->server.address.ToString(), loaded.config->server.http_port);
  // Every listener is bound and the store is open (modules.Start returned).
  notifier.Ready(ServiceStatusLine(*loaded.config));
  io.run();
  modules.Stop();
  spdlog::info("metalpxed stopped");
  return 0;
}

}  // namespace metalpxe
