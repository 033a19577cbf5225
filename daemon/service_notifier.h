#pragma once
// systemd's service notification protocol (sd_notify(3)) for metalpxed.service,
// Type=notify: READY=1 once every listener is bound and the store is open (so
// `systemctl start` returns when the appliance serves, and units ordered after
// it start then), WATCHDOG=1 from the event loop (a loop that hangs misses its
// keep-alives and systemd restarts the service), STATUS= a one-line summary
// for `systemctl status`, RELOADING=1/READY=1 around a reload and STOPPING=1
// on SIGTERM. Without NOTIFY_SOCKET (started by hand) every call does nothing.
#include <chrono>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/config.h"

namespace metalpxe {

// "4 machines, dhcp proxy on eno1, http 10.0.0.1:8080, api 127.0.0.1:50100":
// what `systemctl status metalpxed` shows once it serves.
std::string ServiceStatusLine(const AppConfig& config);

// The keep-alive interval: half of WatchdogSec (systemd's WATCHDOG_USEC), as
// sd_watchdog_enabled(3) advises; nullopt when the service has no watchdog.
std::optional<std::chrono::microseconds> WatchdogKeepAliveInterval();

class ServiceNotifier {
 public:
  explicit ServiceNotifier(boost::asio::io_context& io);
  ~ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  // READY=1 with STATUS=; starts the watchdog keep-alives on the event loop.
  void Ready(const std::string& status);
  void Reloading();
  void Status(const std::string& status);
  // STOPPING=1; the keep-alives stop (the loop is about to end).
  void Stopping(const std::string& status);
  // Keep-alives sent so far (tests and the log at shutdown).
  std::uint64_t keepalives() const { return keepalives_; }

 private:
  void ArmWatchdog();
  boost::asio::steady_timer watchdog_;
  std::optional<std::chrono::microseconds> interval_;
  bool stopping_ = false;
  std::uint64_t keepalives_ = 0;
};

}  // namespace metalpxe
