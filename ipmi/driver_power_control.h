#pragma once
// Core's PowerControl (core/provisioning/power_control.h) over the power
// drivers of this folder: each machine's BmcConfig picks its driver (IPMI,
// Redfish, Hetzner Robot, wake-on-LAN, manual), blocking driver calls run on
// PowerExecutor's workers, and completions come back on the io_context with
// the failure classified into a reason an operator can act on.
#include <boost/asio/io_context.hpp>

#include "core/provisioning/power_control.h"
#include "ipmi/power_driver.h"
#include "ipmi/power_executor.h"

namespace metalpxe {

class DriverPowerControl final : public PowerControl {
 public:
  using DriverFactory =
      std::function<Result<std::unique_ptr<PowerDriver>>(const BmcConfig&, const MacAddress&, const PowerContext&)>;

  // Where a profile's metal disk image comes from (the daemon's asset
  // cache): blocking, called on a power worker before an image reinstall.
  using ImageSource = std::function<Result<DiskImageInstall>(const ProfileConfig&)>;

  DriverPowerControl(boost::asio::io_context& io, PowerContext context, DriverFactory factory = MakePowerDriver,
                     ImageSource images = {});

  Result<Ability> AbilityOf(const MachineConfig& machine) override;
  void Reinstall(const MachineConfig& machine, const ReinstallPowerPlan& plan,
                 std::function<void(Result<ReinstallReached>)> done) override;
  void Act(const MachineConfig& machine, PowerAction action,
           std::function<void(Result<std::string>)> done) override;

 private:
  Result<std::shared_ptr<PowerDriver>> DriverFor(const MachineConfig& m);

  PowerContext context_;
  DriverFactory factory_;
  ImageSource images_;
  PowerExecutor executor_;
};

}  // namespace metalpxe
