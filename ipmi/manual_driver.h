#pragma once
// bmc.type manual (or no BMC): nothing can be switched remotely. Every action
// fails with kUnsupported and a message saying a person must do it, which the
// machine state shows as "unsupported: power-cycle by hand".
#include "ipmi/power_driver.h"

namespace metalpxe {

class ManualPowerDriver final : public PowerDriver {
 public:
  std::string_view Kind() const override { return "manual"; }
  PowerCapabilities Capabilities() const override { return {}; }
  Result<PowerState> GetPowerState() override { return PowerState::kUnknown; }
  Status PowerOn() override { return ByHand("power on"); }
  Status PowerOff() override { return ByHand("power off"); }
  Status PowerCycle() override { return ByHand("power-cycle"); }
  Status SetNextBootNetwork(bool) override { return ByHand("select network boot (firmware boot menu)"); }

 private:
  static Status ByHand(const char* what) {
    return {ErrorCode::kUnsupported, std::string(what) + " by hand: this machine has no BMC metalpxe can drive"};
  }
};

}  // namespace metalpxe
