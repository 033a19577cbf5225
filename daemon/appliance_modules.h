#pragma once
// Every module of the running appliance, built from one config snapshot and
// wired together: store → registry and tokens → DHCP, TFTP, HTTP, Talos
// event sink and kernel logs. Owns them and stops them in reverse order.
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>

#include "core/config_source.h"
#include "core/result.h"

namespace metalpxe {

class ApplianceModules {
 public:
  ApplianceModules(boost::asio::io_context& io, SwappableConfigSource& source);
  ~ApplianceModules();

  // `reload` re-reads config + inventory (the API's accept uses it).
  void SetReload(std::function<bool()> reload);
  Status Start();
  void Stop();  // idempotent
  // Applies the stored upgrades' version pins to a config about to be swapped in.
  void PinVersions(AppConfig& fresh) const;
  void OnConfigReloaded(const AppConfig& fresh);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace metalpxe
