#include "ipmi/power_driver.h"

namespace metalpxe {

std::string_view PowerStateName(PowerState s) {
  switch (s) {
    case PowerState::kOn: return "on";
    case PowerState::kOff: return "off";
    case PowerState::kUnknown: break;
  }
  return "unknown";
}

Status PowerDriver::ReinstallWithKexec(const KexecInstall&) {
  return {ErrorCode::kUnsupported, std::string(Kind()) + " driver cannot reinstall through rescue + kexec"};
}

Status PowerDriver::ReinstallWithImage(const DiskImageInstall&) {
  return {ErrorCode::kUnsupported, std::string(Kind()) + " driver cannot write a disk image from a rescue system"};
}

Status StartReinstall(PowerDriver& driver, const ReinstallPlan& plan) {
  const PowerCapabilities caps = driver.Capabilities();
  if (caps.network_boot && caps.power_cycle) {
    if (Status s = driver.SetNextBootNetwork(plan.efi); !s.ok()) return s;
    return driver.PowerCycle();
  }
  if (caps.kexec_reinstall) return plan.image ? driver.ReinstallWithImage(*plan.image) : driver.ReinstallWithKexec(plan.kexec);
  if (caps.power_on) {
    // wake-on-LAN: can only switch an off machine on; it PXE-boots if its
    // firmware boot order says so. A running machine needs hands.
    if (!caps.power_state) return driver.PowerOn();
    auto state = driver.GetPowerState();
    if (!state.ok() || *state != PowerState::kOn) return driver.PowerOn();
  }
  return driver.PowerCycle();  // manual: the classified "power-cycle by hand"
}

std::string PowerFailureReason(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kOk: return "";
    case ErrorCode::kUnavailable:
    case ErrorCode::kDeadlineExceeded: return "unreachable: " + status.message();
    case ErrorCode::kPermissionDenied: return "authentication failed: " + status.message();
    case ErrorCode::kUnsupported: return "unsupported: " + status.message();
    case ErrorCode::kResourceExhausted: return "rate limited: " + status.message();
    case ErrorCode::kInvalidArgument: return "invalid BMC config: " + status.message();
    case ErrorCode::kFailedPrecondition: return "busy: " + status.message();
    default: return "BMC error: " + status.message();
  }
}

}  // namespace metalpxe
