#pragma once
// bmc.type hetzner-robot: dedicated servers at Hetzner, where metalpxe
// cannot run the network's DHCP, so there is no PXE. Power actions go
// through the Robot web service (reset types the server offers); reinstall
// goes through the rescue system:
//   1. activate rescue (os=linux) with the machine's key (bmc.sshKeyFile,
//      named to Robot by its MD5 fingerprint); Robot answers with the rescue
//      system's host keys, which are pinned (no answer with host keys: no
//      reinstall, never trust on first use);
//   2. reset: sw first (a clean reboot), escalating to hw, then power (those
//      the server offers) when the rescue system does not come up in time;
//   3. poll SSH until a host with a pinned key lets our key in; a host with
//      another key (the old OS still running, or an impostor) gets nothing;
//   4. installMethod image: stream the Talos metal image from metalpxe's
//      verified cache into the rescue system, which checks its sha256, dd's
//      it onto the install disk (a stable /dev/disk/by-id name), reads it
//      back, then a hw reset boots Talos from disk (maintenance mode);
//      installMethod kexec: download kernel + initramfs from metalpxe and
//      kexec them with the PXE command line.
//
// bmc.address is the server number; bmc.username/password the Robot web
// service user.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
  Status SetNextBootNetwork(bool efi) override;  // unsupported: use the rescue reinstalls
  Status ReinstallWithKexec(const KexecInstall& install) override;
  Status ReinstallWithImage(const DiskImageInstall& image) override;
  // The address Robot lists for the server (GET /server/{n}, server_ip):
  // where the rescue system answered, and where Talos comes up after it.
  std::optional<ReachedAddress> Reached() const override { return reached_; }

 private:
  struct Rescue {
    std::string ip;
    std::vector<std::string> host_keys;  // MD5 fingerprints Robot listed
    std::string reset_type;              // the one that booted it (and boots the disk after)
  };
  // Activates rescue (its host keys are the pins) and resets with `reset_type`.
  Result<Rescue> BootRescue(const std::string& reset_type);
  // BootRescue + RunInRescue, escalating sw -> hw -> power (those Robot
  // offers) while the rescue system does not come up; the rescue that ran
  // the script and the marker line.
  Result<std::pair<Rescue, std::string>> InRescue(const std::string& script, const std::string& stdin_file,
                                                  std::string_view marker, bool may_end_without_status);
  // Runs `script` in the rescue system (stdin from `stdin_file` when set)
  // once a pinned host lets us in; returns the output line with `marker`.
  Result<std::string> RunInRescue(const Rescue& rescue, const std::string& script, const std::string& stdin_file,
                                  std::string_view marker, bool may_end_without_status);
  Result<std::vector<std::string>> RescueResetTypes();  // offered, in the order sw, hw, power

  std::string server_number_;
  PowerContext context_;
  RobotClient robot_;
  std::optional<ReachedAddress> reached_;
};

}  // namespace metalpxe
