#pragma once
// The web status page's server: plain HTML/CSS/JS compiled in (ui_assets.h),
// machines as JSON, and one server-sent-events stream per open page that
// carries the machine list (again whenever a machine's event history moves),
// the clusters' status (ui_clusters.h), the selected machine's boot timeline
// and its kernel log, live.
//
// Read-only: it reads the appliance through the management API's backend
// (the same answers metalpxectl gets), never changes anything, and shows no
// secret (no tokens, configs, keys; the kernel log's tokens are redacted
// where it is received).
//
// Where and who: it listens on server.uiListen (default 127.0.0.1:50180,
// off the boot network) on a thread and io_context of its own, so a slow
// browser never delays a boot. Every page but the login form needs a
// session from a login with the password in <stateDir>/ui-password
// (ui_password.h); the cookie is HttpOnly, SameSite=Strict. Bounds: total
// connections, open streams, header and body sizes, a request deadline, and
// one password check per second after a failure.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "api/management/management_backend.h"
#include "core/result.h"
#include "ui/ui_sessions.h"

namespace metalpxe::ui {

struct UiServerOptions {
  std::string listen = "127.0.0.1:50180";  // ADDRESS:PORT; port 0 picks one (tests)
  std::string state_dir;                   // where ui-password lives
  std::size_t max_connections = 64;
  std::size_t max_streams = 16;
  // How often the cluster section's slow facts (etcd, /readyz, versions) are
  // asked for while a page is open (ui_clusters.h).
  std::chrono::milliseconds cluster_probe_interval{10'000};
  UiSessionOptions sessions;
};

class UiServer {
 public:
  UiServer(UiServerOptions options, ManagementBackend& backend);
  ~UiServer();  // Stop()
  UiServer(const UiServer&) = delete;
  UiServer& operator=(const UiServer&) = delete;

  Status Start();
  void Stop();
  std::uint16_t port() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace metalpxe::ui
