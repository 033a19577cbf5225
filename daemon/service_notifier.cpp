#include "daemon/service_notifier.h"

#include <systemd/sd-daemon.h>

#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "core/log.h"

namespace metalpxe {
namespace {

// A STATUS= value is one line: a newline would start another assignment.
std::string OneLineForNotify(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

void SendNotify(const std::string& message) {
  // unset_environment=0: a reload or a later message uses the same socket.
  if (const int r = sd_notify(0, message.c_str()); r < 0)
    spdlog::warn("sd_notify: {}", std::strerror(-r));
}

}  // namespace

std::string ServiceStatusLine(const AppConfig& config) {
  const ServerConfig& s = config.server;
  const std::size_t machines = config.inventory ? config.inventory->machines.size() : 0;
  std::string dhcp = "dhcp " + std::string(DhcpModeName(config.dhcp.mode));
  if (config.dhcp.mode != DhcpMode::kOff) dhcp += " on " + (s.interface.empty() ? std::string("every interface") : s.interface);
  return fmt::format("{} machine{}, {}, http {}:{}, api {}", machines, machines == 1 ? "" : "s", dhcp,
                     s.address.ToString(), s.http_port, s.api_listen);
}

std::optional<std::chrono::microseconds> WatchdogKeepAliveInterval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

ServiceNotifier::ServiceNotifier(boost::asio::io_context& io) : watchdog_(io), interval_(WatchdogKeepAliveInterval()) {}

ServiceNotifier::~ServiceNotifier() { watchdog_.cancel(); }

void ServiceNotifier::Ready(const std::string& status) {
  SendNotify("READY=1\nSTATUS=" + OneLineForNotify(status));
  if (interval_ && !stopping_) {
    watchdog_.cancel();
    ArmWatchdog();
  }
}

void ServiceNotifier::Reloading() { SendNotify("RELOADING=1\nSTATUS=reloading the config and the inventory"); }

void ServiceNotifier::Status(const std::string& status) { SendNotify("STATUS=" + OneLineForNotify(status)); }

void ServiceNotifier::Stopping(const std::string& status) {
  stopping_ = true;
  watchdog_.cancel();
  SendNotify("STOPPING=1\nSTATUS=" + OneLineForNotify(status));
}

void ServiceNotifier::ArmWatchdog() {
  // From the event loop itself: if a handler blocks the loop, the keep-alive
  // is late, and systemd kills and restarts the service (Restart=on-failure).
  watchdog_.expires_after(*interval_);
  watchdog_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    SendNotify("WATCHDOG=1");
    ++keepalives_;
    ArmWatchdog();
  });
}

}  // namespace metalpxe
