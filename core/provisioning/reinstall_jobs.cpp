#include "core/provisioning/reinstall_jobs.h"

#include "core/boot_client.h"
#include "core/config_clusters.h"
#include "core/log.h"
#include "core/provisioning/boot_urls.h"
#include "core/provisioning/talos_kernel_args.h"

namespace metalpxe {

std::string_view PowerActionName(PowerAction a) {
  switch (a) {
    case PowerAction::kStatus: return "status";
    case PowerAction::kOn: return "on";
    case PowerAction::kOff: return "off";
    case PowerAction::kCycle: return "cycle";
  }
  return "status";
}

ReinstallJobs::ReinstallJobs(const ConfigSource& config, MachineRegistry& registry, ConfigTokenIssuer& tokens,
                             PowerControl& power, Scheduler& scheduler, SteadyClock clock)
    : config_(config),
      registry_(registry),
      tokens_(tokens),
      power_(power),
      scheduler_(scheduler),
      clock_(std::move(clock)) {}

ReinstallJobs::~ReinstallJobs() {
  *alive_ = false;
  std::lock_guard lock(mu_);
  jobs_.clear();  // cancels the deadlines
}

std::chrono::steady_clock::time_point ReinstallJobs::Now() const {
  return clock_ ? clock_() : std::chrono::steady_clock::now();
}

MacAddress ReinstallJobs::Primary(const MacAddress& mac) const {
  const auto config = config_.Current();
  const MachineConfig* m = MachineRegistry::InventoryMachine(*config, mac);
  return m ? m->macs.front() : mac;
}

Status ReinstallJobs::CheckRateLocked(const MacAddress& primary) {
  const auto now = Now();
  const auto interval = config_.Current()->power.min_interval;
  if (auto it = last_power_.find(primary); it != last_power_.end() && now - it->second < interval) {
    const auto wait = std::chrono::duration_cast<std::chrono::seconds>(interval - (now - it->second));
    return {ErrorCode::kFailedPrecondition, "a power action ran less than " + std::to_string(interval.count()) +
                                                "s ago; try again in " + std::to_string(wait.count() + 1) + "s"};
  }
  last_power_[primary] = now;
  return Status::Ok();
}

Status ReinstallJobs::Request(const MacAddress& mac, bool wipe) {
  const auto config = config_.Current();
  const MachineConfig* m = MachineRegistry::InventoryMachine(*config, mac);
  if (!m) return {ErrorCode::kNotFound, "machine " + mac.ToString() + " is not in the inventory"};
  const MacAddress primary = m->macs.front();
  auto ability = power_.AbilityOf(*m);
  if (!ability.ok()) return ability.status();
  if (!ability->reinstall)
    return {ErrorCode::kFailedPrecondition, "machine " + m->name + ": bmc type " + ability->kind +
                                                " cannot power it; power-cycle it by hand after requesting"};
  {
    std::lock_guard lock(mu_);
    if (auto st = CheckRateLocked(primary); !st.ok()) return st;
    if (wipe)
      wipe_.insert(primary);
    else
      wipe_.erase(primary);
    jobs_[primary] = Job{wipe, 0, nullptr};
  }
  registry_.Apply(primary, LifecycleEvent::kReinstallRequested,
                  std::string("reinstall requested") + (wipe ? " (wipe system disk)" : ""));
  Attempt(primary);
  return Status::Ok();
}

ReinstallPowerPlan ReinstallJobs::PlanFor(const AppConfig& config, const MachineConfig& m, bool kexec, bool wipe) {
  ReinstallPowerPlan plan;
  // Next boot from the network in the firmware mode the machine last
  // network-booted with; UEFI when metalpxe never saw it boot (the common
  // case for servers, and what Talos recommends).
  const auto record = registry_.Get(m.macs.front());
  plan.efi = !record || ParseBootClientName(record->arch).firmware != Firmware::kBios;
  const bool image = kexec && m.bmc && m.bmc->install_method == InstallMethod::kImage;
  if (image) {
    // Hetzner rescue, installMethod image: the profile's metal image on the
    // install disk; Talos boots from it in maintenance mode (no token: the
    // config comes by apply or the profile's delivery).
    plan.image = ReinstallPowerPlan::DiskImage{config.profiles.at(m.profile), m.install_disk};
  } else if (kexec) {
    // No PXE there (Hetzner): the same installer, arguments and token over
    // kexec. With configDelivery apply no token and no config URL: the config
    // would cross the internet in plaintext; Talos waits in maintenance mode
    // and gets it over TLS at the server's address (RescueInstallDone).
    const ProfileConfig& profile = config.profiles.at(m.profile);
    std::string config_url;
    if (ConfigDeliveryFor(config, m) != ConfigDelivery::kApply)
      config_url = ConfigUrl(config.server, tokens_.Issue(m.macs.front(), std::nullopt, TokenClock::now()).token);
    const ProfileAssetUrls urls = ProfileAssetUrlsFor(config.server, profile.name);
    auto args = TalosKernelArgs(config.server, profile, &m, config_url, wipe);
    args.erase(args.begin());  // initrd=… names an iPXE initrd; kexec takes the file directly
    plan.kexec = ReinstallPowerPlan::Kexec{urls.kernel, urls.initramfs, JoinArgs(args)};
  }
  return plan;
}

void ReinstallJobs::Attempt(const MacAddress& primary) {
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
    last_power_[primary] = Now();
  }
  if (!m) return Fail(primary, "removed from the inventory during the reinstall");
  auto ability = power_.AbilityOf(*m);
  if (!ability.ok()) return Fail(primary, ability.status().message());
  const ReinstallPowerPlan plan = PlanFor(*config, *m, ability->kexec, wipe);
  registry_.RecordEvent(primary, "power",
                        "reinstall attempt " + std::to_string(attempt) + " of " +
                            std::to_string(config->power.attempts) + " through " + ability->kind);
  power_.Reinstall(*m, plan, [this, primary, attempt, plan, alive = alive_](Result<ReinstallReached> reached) {
    if (*alive) AttemptDone(primary, attempt, plan, reached);
  });
}

void ReinstallJobs::AttemptDone(const MacAddress& primary, int attempt, const ReinstallPowerPlan& plan,
                                const Result<ReinstallReached>& reached) {
  ++(reached.ok() ? power_ok_ : power_failed_);
  if (!reached.ok()) return Fail(primary, reached.status().message());
  if (plan.image || plan.kexec) {
    // Through the rescue system the driver's success is the installer having
    // reached the machine (image on disk and reset, or kexec'd): no PXE boot
    // will follow to mark it, so mark it here and stop the job. Waiting for
    // a PXE fetch would reset the machine into rescue again and again.
    {
      std::lock_guard lock(mu_);
      auto it = jobs_.find(primary);
      if (it == jobs_.end() || it->second.attempt != attempt) return;
      jobs_.erase(it);
      wipe_.erase(primary);
    }
    return RescueInstallDone(primary, plan, *reached);
  }
  const auto timeout = config_.Current()->power.pxe_timeout;
  std::lock_guard lock(mu_);
  auto it = jobs_.find(primary);
  if (it == jobs_.end() || it->second.attempt != attempt) return;
  it->second.deadline = scheduler_.After(timeout, [this, primary, attempt, alive = alive_] {
    if (*alive) DeadlinePassed(primary, attempt);
  });
}

void ReinstallJobs::RescueInstallDone(const MacAddress& primary, const ReinstallPowerPlan& plan,
                                      const ReinstallReached& reached) {
  const auto config = config_.Current();
  const MachineConfig* m = MachineRegistry::InventoryMachine(*config, primary);
  std::string what = plan.image ? "Talos image written to " +
                                      (plan.image->install_disk.empty() ? std::string("the only disk")
                                                                        : plan.image->install_disk) +
                                      " from the rescue system; Talos boots from it in maintenance mode"
                                : std::string("installer kexec'd from the rescue system");
  // Where the machine is now: the inventory's ip when it names one (an
  // additional address routed to the server), else what the power side
  // learned (Robot's listing). Recorded as its address: our DHCP never saw
  // it, and the cluster driver dials machines where they were last seen.
  std::optional<Ipv4Address> address;
  std::string source;
  if (m && m->ip) {
    address = m->ip;
    source = "the inventory's ip";
  } else if (reached.address) {
    address = reached.address;
    source = reached.address_source;
  }
  if (address) {
    BootObservation seen;
    seen.mac = primary;
    seen.ip = address;
    registry_.ObserveBoot(seen);
  }
  // Neither the disk image nor (with apply) the kexec'd installer has a
  // config URL: with configDelivery apply the config goes over the Talos
  // API, to that address.
  const bool apply = m && ConfigDeliveryFor(*config, *m) == ConfigDelivery::kApply;
  if (apply && !address)
    return Fail(primary, what + ", but configDelivery apply has no address to send the config to (the power side "
                                "named none and the inventory has no ip)");
  if (apply) what += "; config by apply to " + address->ToString() + " (" + source + ")";
  registry_.Apply(primary, LifecycleEvent::kInstallerServed, what);
  if (apply && await_apply_) await_apply_(primary, m->name, *address);
}

void ReinstallJobs::DeadlinePassed(const MacAddress& primary, int attempt) {
  const PowerConfig limits = config_.Current()->power;
  {
    std::lock_guard lock(mu_);
    auto it = jobs_.find(primary);
    if (it == jobs_.end() || it->second.attempt != attempt) return;
  }
  const std::string waited = "no PXE boot within " + std::to_string(limits.pxe_timeout.count()) + "s";
  if (attempt >= limits.attempts)
    return Fail(primary, waited + " after " + std::to_string(attempt) + " power cycles");
  registry_.RecordEvent(primary, "power", waited + "; retrying");
  Attempt(primary);
}

void ReinstallJobs::Fail(const MacAddress& primary, const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    jobs_.erase(primary);
    wipe_.erase(primary);
  }
  registry_.Apply(primary, LifecycleEvent::kPowerFailed, "reinstall failed", reason);
}

std::size_t ReinstallJobs::FailInterruptedRescueInstalls() {
  const auto config = config_.Current();
  if (!config->inventory) return 0;
  std::size_t n = 0;
  for (const auto& m : config->inventory->machines) {
    if (!m.bmc || m.macs.empty()) continue;
    const MacAddress primary = m.macs.front();
    if (registry_.StateOf(primary) != MachineState::kReinstallRequested) continue;
    {
      std::lock_guard lock(mu_);
      if (jobs_.count(primary) != 0) continue;  // this process's own job
    }
    auto ability = power_.AbilityOf(m);
    if (!ability.ok() || !ability->kexec) continue;
    Fail(primary, "interrupted: metalpxed stopped during the reinstall through the rescue system, before Talos "
                  "was on the disk; run `metalpxectl reinstall " + m.name + "` again");
    ++n;
  }
  return n;
}

void ReinstallJobs::InstallerServed(const MacAddress& mac) {
  const MacAddress primary = Primary(mac);
  std::lock_guard lock(mu_);
  auto it = jobs_.find(primary);
  if (it == jobs_.end()) return;
  jobs_.erase(it);  // cancels the deadline
  // The wipe flag went into the script just served; the next PXE boot is a normal one.
  wipe_.erase(primary);
}

bool ReinstallJobs::WipeRequested(const MacAddress& mac) const {
  const MacAddress primary = Primary(mac);
  std::lock_guard lock(mu_);
  return wipe_.count(primary) > 0;
}

void ReinstallJobs::Power(const MacAddress& mac, PowerAction action, std::function<void(Result<std::string>)> done) {
  const auto config = config_.Current();
  const MachineConfig* m = MachineRegistry::InventoryMachine(*config, mac);
  if (!m) return done(Status{ErrorCode::kNotFound, "machine " + mac.ToString() + " is not in the inventory"});
  if (auto ability = power_.AbilityOf(*m); !ability.ok()) return done(ability.status());
  const MacAddress primary = m->macs.front();
  if (action != PowerAction::kStatus) {
    std::lock_guard lock(mu_);
    if (auto st = CheckRateLocked(primary); !st.ok()) return done(st);
  }
  power_.Act(*m, action, [this, primary, action, done = std::move(done), alive = alive_](Result<std::string> r) {
    if (*alive) {
      ++(r.ok() ? power_ok_ : power_failed_);
      // Status checks too: the operator sees why in the log, not only in metalpxectl.
      if (!r.ok())
        spdlog::warn("power {} for {} failed: {}", PowerActionName(action), primary.ToString(), r.status().message());
      if (action != PowerAction::kStatus)
        registry_.RecordEvent(primary, "power",
                              "power " + std::string(PowerActionName(action)) + ": " +
                                  (r.ok() ? *r : r.status().message()));
    }
    done(std::move(r));
  });
}

}  // namespace metalpxe
