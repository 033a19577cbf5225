#include "ipmi/driver_power_control.h"

namespace metalpxe {

DriverPowerControl::DriverPowerControl(boost::asio::io_context& io, PowerContext context, DriverFactory factory,
                                       ImageSource images)
    : context_(std::move(context)), factory_(std::move(factory)), images_(std::move(images)), executor_(io) {}

Result<std::shared_ptr<PowerDriver>> DriverPowerControl::DriverFor(const MachineConfig& m) {
  if (!m.bmc) return Status{ErrorCode::kFailedPrecondition, "machine " + m.name + " has no bmc in the inventory"};
  auto driver = factory_(*m.bmc, m.macs.front(), context_);
  if (!driver.ok()) return Status{driver.status().code(), PowerFailureReason(driver.status())};
  return std::shared_ptr<PowerDriver>(std::move(*driver));
}

Result<PowerControl::Ability> DriverPowerControl::AbilityOf(const MachineConfig& m) {
  auto driver = DriverFor(m);
  if (!driver.ok()) return driver.status();
  const PowerCapabilities caps = (*driver)->Capabilities();
  return Ability{caps.kexec_reinstall || caps.power_on || caps.power_cycle, caps.kexec_reinstall,
                 std::string((*driver)->Kind())};
}

void DriverPowerControl::Reinstall(const MachineConfig& m, const ReinstallPowerPlan& plan,
                                   std::function<void(Result<ReinstallReached>)> done) {
  auto driver = DriverFor(m);
  if (!driver.ok()) return done(driver.status());
  ReinstallPlan p;
  p.efi = plan.efi;
  if (plan.kexec) p.kexec = {plan.kexec->kernel_url, plan.kexec->initramfs_url, plan.kexec->command_line};
  std::optional<ReinstallPowerPlan::DiskImage> image = plan.image;
  executor_.Submit(
      [d = *driver, p, image, images = images_]() mutable -> Result<ReinstallReached> {
        if (image) {
          // The image is fetched (once, into the cache) off the event loop.
          if (!images) return Status{ErrorCode::kUnsupported, "no image source for installMethod image"};
          auto file = images(image->profile);
          if (!file.ok()) return Status{file.status().code(), "metal image: " + file.status().message()};
          file->disk = image->install_disk;
          p.image = *file;
        }
        if (Status st = StartReinstall(*d, p); !st.ok()) return Status{st.code(), PowerFailureReason(st)};
        ReinstallReached reached;
        if (auto at = d->Reached()) {
          reached.address = Ipv4Address::Parse(at->address);
          if (reached.address) reached.address_source = at->source;
        }
        return reached;
      },
      std::move(done));
}

void DriverPowerControl::Act(const MachineConfig& m, PowerAction action,
                             std::function<void(Result<std::string>)> done) {
  auto driver = DriverFor(m);
  if (!driver.ok()) return done(driver.status());
  executor_.Submit(
      [driver = *driver, action]() -> Result<std::string> {
        Status st;
        if (action == PowerAction::kOn) st = driver->PowerOn();
        if (action == PowerAction::kOff) st = driver->PowerOff();
        if (action == PowerAction::kCycle) st = driver->PowerCycle();
        if (!st.ok()) return Status{st.code(), PowerFailureReason(st)};
        auto state = driver->GetPowerState();
        if (!state.ok())
          return action == PowerAction::kStatus
                     ? Result<std::string>(Status{state.status().code(), PowerFailureReason(state.status())})
                     : Result<std::string>("unknown");
        return std::string(PowerStateName(*state));
      },
      std::move(done));
}

}  // namespace metalpxe
