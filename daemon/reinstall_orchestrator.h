#pragma once
// Remote reinstall: reinstall-requested → next boot from the network (or
// Hetzner rescue + kexec) → power on/cycle through the machine's BMC →
// expect the installer to be served within a timeout → retry a bounded number
// of times → installing/installed, or failed with a readable reason. At most
// one power action per machine per interval.
//
// Lives in the daemon rather than core/: it is the one place that joins the
// machine registry (core) with the power drivers (ipmi/), and core stays free
// of driver dependencies. All state is touched on the io_context thread;
// public calls may come from any thread.
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/config_source.h"
#include "core/install/config_tokens.h"
#include "core/machine_registry.h"
#include "ipmi/power_driver.h"
#include "ipmi/power_executor.h"

namespace metalpxe {

// Pacing, PXE timeout and attempts come from the config's `power` section
// (PowerConfig), read at each use so a reload applies to the next action.
struct ReinstallOptions {
  PowerContext power;  // driver settings (timeouts, retries, wol interface)
};

class ReinstallOrchestrator {
 public:
  using DriverFactory =
      std::function<Result<std::unique_ptr<PowerDriver>>(const BmcConfig&, const MacAddress&, const PowerContext&)>;

  ReinstallOrchestrator(boost::asio::io_context& io, const ConfigSource& config, MachineRegistry& registry,
                        ConfigTokenIssuer& tokens, ReinstallOptions options, DriverFactory factory = MakePowerDriver);
  ~ReinstallOrchestrator();

  // Starts a reinstall of an inventory machine (by any of its MACs).
  // kNotFound: not in the inventory; kFailedPrecondition: no BMC that can do
  // it, or a power action too recently.
  Status Request(const MacAddress& mac, bool wipe);
  // One power action (status/on/off/cycle); `done` runs on the io_context
  // thread with the power state afterwards.
  void Power(const MacAddress& mac, int action /*0 status 1 on 2 off 3 cycle*/,
             std::function<void(Result<std::string>)> done);

  // Power actions run (reinstall sequences and single actions), for /metrics.
  std::uint64_t power_actions_ok() const { return power_ok_.load(); }
  std::uint64_t power_actions_failed() const { return power_failed_.load(); }

  // Boot-path hooks (any thread).
  bool WipeRequested(const MacAddress& mac) const;
  void InstallerServed(const MacAddress& mac);

 private:
  struct Job {
    MacAddress mac;
    bool wipe = false;
    int attempt = 0;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  Result<std::shared_ptr<PowerDriver>> DriverFor(const AppConfig& config, const MachineConfig& m);
  Status CheckRateLocked(const MacAddress& primary);
  void Attempt(const MacAddress& primary);
  void Fail(const MacAddress& primary, const std::string& reason);

  boost::asio::io_context& io_;
  const ConfigSource& config_;
  MachineRegistry& registry_;
  ConfigTokenIssuer& tokens_;
  ReinstallOptions options_;
  DriverFactory factory_;
  PowerExecutor executor_;
  mutable std::mutex mu_;
  std::map<MacAddress, Job> jobs_;  // by primary MAC
  std::set<MacAddress> wipe_;
  std::map<MacAddress, std::chrono::steady_clock::time_point> last_power_;
  std::atomic<std::uint64_t> power_ok_{0}, power_failed_{0};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace metalpxe
