#pragma once
// Remote reinstall, as rules: reinstall-requested → next boot from the
// network (or Hetzner rescue + kexec) → power on/cycle through the machine's
// BMC → the installer must be served within `power.pxeTimeout` → retry up to
// `power.attempts` times → installing, or failed with a readable reason.
// Through a Hetzner rescue system (image or kexec) the driver's success is
// the installer reaching the machine: pending-install, no PXE deadline. At
// most one power action per machine per `power.minInterval`. The settings are
// read at each use, so a reload applies to the next action.
//
// The BMC calls and the clock are the daemon's (PowerControl, Scheduler);
// what happens when, and what it means for the machine, is decided here.
// Thread-safe: requests come from API threads, installer sightings from HTTP
// workers, completions from the power control's thread.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "core/config_source.h"
#include "core/install/config_tokens.h"
#include "core/machine_registry.h"
#include "core/provisioning/power_control.h"

namespace metalpxe {

class ReinstallJobs {
 public:
  using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

  ReinstallJobs(const ConfigSource& config, MachineRegistry& registry, ConfigTokenIssuer& tokens,
                PowerControl& power, Scheduler& scheduler, SteadyClock clock = {});
  ~ReinstallJobs();

  // Starts a reinstall of an inventory machine (by any of its MACs).
  // kNotFound: not in the inventory; kFailedPrecondition: no BMC that can do
  // it, or a power action too recently.
  Status Request(const MacAddress& mac, bool wipe);
  // One power action; `done` runs on the power control's thread with the
  // power state afterwards, or the reason it failed.
  void Power(const MacAddress& mac, PowerAction action, std::function<void(Result<std::string>)> done);

  // The boot path: should this install wipe the system disk, and the
  // installer was served (the reinstall reached the machine).
  bool WipeRequested(const MacAddress& mac) const;
  void InstallerServed(const MacAddress& mac);

  // configDelivery apply after a rescue install (image, or kexec without a
  // config URL): Talos waits in maintenance mode at `address` (the
  // provisioning service makes the machine a config-apply target there).
  // Set before any request.
  // After a restart: a reinstall through a rescue system that was under way
  // when metalpxed stopped has nobody driving it any more (the SSH session
  // and the image stream ended with the process), and no PXE boot will come
  // to mark it, so it would stay reinstall-requested forever: it fails with
  // that reason. (Through PXE the installer fetch still comes and marks the
  // machine.) Returns how many.
  std::size_t FailInterruptedRescueInstalls();

  using AwaitApply = std::function<void(const MacAddress& primary, const std::string& machine, Ipv4Address address)>;
  void SetAwaitApply(AwaitApply hook) { await_apply_ = std::move(hook); }

  std::uint64_t power_actions_ok() const { return power_ok_.load(); }
  std::uint64_t power_actions_failed() const { return power_failed_.load(); }

 private:
  struct Job {
    bool wipe = false;
    int attempt = 0;
    std::unique_ptr<Scheduler::Handle> deadline;
  };
  Status CheckRateLocked(const MacAddress& primary);
  void Attempt(const MacAddress& primary);
  void AttemptDone(const MacAddress& primary, int attempt, const ReinstallPowerPlan& plan,
                   const Result<ReinstallReached>& reached);
  // Through a rescue system: no PXE boot follows; where the machine is now.
  void RescueInstallDone(const MacAddress& primary, const ReinstallPowerPlan& plan, const ReinstallReached& reached);
  void DeadlinePassed(const MacAddress& primary, int attempt);
  void Fail(const MacAddress& primary, const std::string& reason);
  ReinstallPowerPlan PlanFor(const AppConfig& config, const MachineConfig& m, bool kexec, bool wipe);
  MacAddress Primary(const MacAddress& mac) const;
  std::chrono::steady_clock::time_point Now() const;

  const ConfigSource& config_;
  MachineRegistry& registry_;
  ConfigTokenIssuer& tokens_;
  PowerControl& power_;
  Scheduler& scheduler_;
  SteadyClock clock_;
  AwaitApply await_apply_;
  mutable std::mutex mu_;
  std::map<MacAddress, Job> jobs_;  // by primary MAC
  std::set<MacAddress> wipe_;
  std::map<MacAddress, std::chrono::steady_clock::time_point> last_power_;
  std::atomic<std::uint64_t> power_ok_{0}, power_failed_{0};
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace metalpxe
