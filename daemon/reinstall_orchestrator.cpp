#include "daemon/reinstall_orchestrator.h"

#include "core/boot_firmware.h"

#include <boost/asio/post.hpp>

#include "core/log.h"
#include "pxe/talos_kernel_args.h"

namespace metalpxe {

ReinstallOrchestrator::ReinstallOrchestrator(boost::asio::io_context& io, const ConfigSource& config,
                                             MachineRegistry& registry, ConfigTokenIssuer& tokens,
                                             ReinstallOptions options, DriverFactory factory)
    : io_(io),
      config_(config),
      registry_(registry),
      tokens_(tokens),
      options_(std::move(options)),
      factory_(std::move(factory)),
      executor_(io) {}

ReinstallOrchestrator::~ReinstallOrchestrator() {
  *alive_ = false;
  std::lock_guard lock(mu_);
  for (auto& [mac, job] : jobs_)
    if (job.timer) job.timer->cancel();
}

Result<std::shared_ptr<PowerDriver>> ReinstallOrchestrator::DriverFor(const AppConfig&, const MachineConfig& m) {
  if (!m.bmc) return Status{ErrorCode::kFailedPrecondition, "machine " + m.name + " has no bmc in the inventory"};
  auto driver = factory_(*m.bmc, m.macs.front(), options_.power);
  if (!driver.ok()) return driver.status();
  return std::shared_ptr<PowerDriver>(std::move(*driver));
}

Status ReinstallOrchestrator::CheckRateLocked(const MacAddress& primary) {
  const auto now = std::chrono::steady_clock::now();
  const auto interval = config_.Current()->power.min_interval;
  if (auto it = last_power_.find(primary); it != last_power_.end() && now - it->second < interval) {
    const auto wait = std::chrono::duration_cast<std::chrono::seconds>(interval - (now - it->second));
    return {ErrorCode::kFailedPrecondition,
            "a power action ran less than " + std::to_string(interval.count()) +
                "s ago; try again in " + std::to_string(wait.count() + 1) + "s"};
  }
  last_power_[primary] = now;
  return Status::Ok();
}

Status ReinstallOrchestrator::Request(const MacAddress& mac, bool wipe) {
  const auto config = config_.Current();
  const MachineConfig* m = MachineRegistry::InventoryMachine(*config, mac);
  if (!m) return {ErrorCode::kNotFound, "machine " + mac.ToString() + " is not in the inventory"};
  const MacAddress primary = m->macs.front();
  auto driver = DriverFor(*config, *m);
  if (!driver.ok()) return driver.status();
  const PowerCapabilities caps = (*driver)->Capabilities();
  if (!caps.kexec_reinstall && !(caps.power_on || caps.power_cycle))
    return {ErrorCode::kFailedPrecondition, "machine " + m->name + ": bmc type " + std::string(BmcTypeName(m->bmc->type)) +
                                                " cannot power it; power-cycle it by hand after requesting"};
  {
    std::lock_guard lock(mu_);
    if (auto st = CheckRateLocked(primary); !st.ok()) return st;
    if (wipe) wipe_.insert(primary); else wipe_.erase(primary);
    Job job;
    job.mac = primary;
    job.wipe = wipe;
    jobs_[primary] = std::move(job);
  }
  registry_.Apply(primary, LifecycleEvent::kReinstallRequested,
                  std::string("reinstall requested") + (wipe ? " (wipe system disk)" : ""));
  boost::asio::post(io_, [this, primary, alive = alive_] {
    if (*alive) Attempt(primary);
  });
  return Status::Ok();
}

void ReinstallOrchestrator::Attempt(const MacAddress& primary) {
  const auto config = config_.Current();
  const MachineConfig* m = MachineRegistry::InventoryMachine(*config, primary);
  int attempt = 0;
  bool wipe = false;
  {
    std::lock_guard lock(mu_);
    auto it = jobs_.find(primary);
    if (it == jobs_.end()) return;  // served meanwhile
    attempt = ++it->second.attempt;
    wipe = it->second.wipe;
    last_power_[primary] = std::chrono::steady_clock::now();
  }
  if (!m) return Fail(primary, "removed from the inventory during the reinstall");
  auto driver = DriverFor(*config, *m);
  if (!driver.ok()) return Fail(primary, PowerFailureReason(driver.status()));

  ReinstallPlan plan;
  // Next boot from the network in the firmware mode the machine last
  // PXE-booted with; UEFI when metalpxe never saw it boot (the common case
  // for servers, and what Talos recommends).
  const auto record = registry_.Get(primary);
  plan.efi = !record || FirmwareFromArch(record->arch) != BootFirmware::kBios;
  if ((*driver)->Capabilities().kexec_reinstall) {
    // No PXE there (Hetzner): the same installer, arguments and token over kexec.
    const ProfileConfig& profile = config->profiles.at(m->profile);
    const IssuedToken token = tokens_.Issue(primary, std::nullopt, TokenClock::now());
    const TalosBootUrls urls = BootUrlsFor(config->server, profile.name, token.token);
    auto args = TalosKernelArgs(config->server, profile, m, urls.config, wipe);
    args.erase(args.begin());  // initrd=… names an iPXE initrd; kexec takes the file directly
    plan.kexec = {urls.kernel, urls.initramfs, JoinArgs(args)};
  }
  const PowerConfig limits = config->power;
  registry_.RecordEvent(primary, "power", "reinstall attempt " + std::to_string(attempt) + " of " +
                                              std::to_string(limits.attempts) + " through " +
                                              std::string((*driver)->Kind()));
  executor_.Run(
      *driver, [plan](PowerDriver& d) { return StartReinstall(d, plan); },
      [this, primary, attempt, limits, alive = alive_](Status st) {
        if (!*alive) return;
        ++(st.ok() ? power_ok_ : power_failed_);
        if (!st.ok()) return Fail(primary, PowerFailureReason(st));
        std::lock_guard lock(mu_);
        auto it = jobs_.find(primary);
        if (it == jobs_.end()) return;
        it->second.timer = std::make_unique<boost::asio::steady_timer>(io_, limits.pxe_timeout);
        it->second.timer->async_wait([this, primary, attempt, limits, alive](boost::system::error_code ec) {
          if (ec || !*alive) return;
          if (attempt >= limits.attempts) {
            Fail(primary, "no PXE boot within " + std::to_string(limits.pxe_timeout.count()) + "s after " +
                              std::to_string(attempt) + " power cycles");
            return;
          }
          registry_.RecordEvent(primary, "power", "no PXE boot within " +
                                                      std::to_string(limits.pxe_timeout.count()) + "s; retrying");
          Attempt(primary);
        });
      });
}

void ReinstallOrchestrator::Fail(const MacAddress& primary, const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    jobs_.erase(primary);
    wipe_.erase(primary);
  }
  registry_.Apply(primary, LifecycleEvent::kPowerFailed, "reinstall failed", reason);
}

void ReinstallOrchestrator::InstallerServed(const MacAddress& mac) {
  const auto config = config_.Current();
  const MachineConfig* m = MachineRegistry::InventoryMachine(*config, mac);
  const MacAddress primary = m ? m->macs.front() : mac;
  std::lock_guard lock(mu_);
  auto it = jobs_.find(primary);
  if (it == jobs_.end()) return;
  if (it->second.timer) it->second.timer->cancel();
  jobs_.erase(it);
  // The wipe flag went into the script just served; the next PXE boot is a normal one.
  wipe_.erase(primary);
}

bool ReinstallOrchestrator::WipeRequested(const MacAddress& mac) const {
  const auto config = config_.Current();
  const MachineConfig* m = MachineRegistry::InventoryMachine(*config, mac);
  std::lock_guard lock(mu_);
  return wipe_.count(m ? m->macs.front() : mac) > 0;
}

void ReinstallOrchestrator::Power(const MacAddress& mac, int action, std::function<void(Result<std::string>)> done) {
  const auto config = config_.Current();
  const MachineConfig* m = MachineRegistry::InventoryMachine(*config, mac);
  if (!m) return done(Status{ErrorCode::kNotFound, "machine " + mac.ToString() + " is not in the inventory"});
  auto driver = DriverFor(*config, *m);
  if (!driver.ok()) return done(driver.status());
  if (action != 0) {
    std::lock_guard lock(mu_);
    if (auto st = CheckRateLocked(m->macs.front()); !st.ok()) return done(st);
  }
  const MacAddress primary = m->macs.front();
  static constexpr const char* kNames[] = {"status", "on", "off", "cycle"};
  executor_.Submit(
      [driver = *driver, action]() -> Result<std::string> {
        Status st;
        if (action == 1) st = driver->PowerOn();
        if (action == 2) st = driver->PowerOff();
        if (action == 3) st = driver->PowerCycle();
        if (!st.ok()) return st;
        auto state = driver->GetPowerState();
        if (!state.ok()) return action == 0 ? Result<std::string>(state.status()) : Result<std::string>("unknown");
        return std::string(PowerStateName(*state));
      },
      [this, primary, action, done = std::move(done), alive = alive_](Result<std::string> r) {
        if (*alive) ++(r.ok() ? power_ok_ : power_failed_);
        // Status checks too: the operator sees why in the log, not only in metalpxectl.
        if (!r.ok())
          spdlog::warn("power {} for {} failed: {}", kNames[action], primary.ToString(),
                       PowerFailureReason(r.status()));
        if (*alive && action != 0)
          registry_.RecordEvent(primary, "power",
                                std::string("power ") + kNames[action] + ": " +
                                    (r.ok() ? *r : PowerFailureReason(r.status())));
        done(std::move(r));
      });
}

}  // namespace metalpxe
