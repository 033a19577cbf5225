#pragma once
// bmc.type hetzner-robot: dedicated servers at Hetzner, where metalpxe
// cannot run the network's DHCP, so there is no PXE. Power actions go
// through the Robot web service (reset types the server offers); reinstall
// is: activate the rescue system with metalpxe's SSH key, hardware reset,
// wait until the rescue system answers SSH, then download kernel + initramfs
// from metalpxe and kexec them with the same command line a PXE install gets.
//
// bmc.address is the server number; bmc.username/password the Robot web
// service user. Known gap: the rescue host key is not pinned (new on each
// activation, and not every Robot answer lists it).
#include <string>

#include "ipmi/power_driver.h"
#include "ipmi/robot_client.h"

namespace metalpxe {

class RobotPowerDriver final : public PowerDriver {
 public:
  RobotPowerDriver(std::string server_number, std::string user, Secret password, PowerContext context);

  std::string_view Kind() const override { return "hetzner-robot"; }
  PowerCapabilities Capabilities() const override;
  // Robot reports no power state: kUnknown once the server is known to Robot.
  Result<PowerState> GetPowerState() override;
  Status PowerOn() override;     // Robot wake-on-LAN
  Status PowerOff() override;    // reset type power_long (long power-button press), when offered
  Status PowerCycle() override;  // reset type hw
  Status SetNextBootNetwork(bool efi) override;  // unsupported: use ReinstallWithKexec
  Status ReinstallWithKexec(const KexecInstall& install) override;

 private:
  std::string server_number_;
  PowerContext context_;
  RobotClient robot_;
};

}  // namespace metalpxe
