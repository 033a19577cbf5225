#pragma once
// bmc.type ipmi: IPMI 2.0 lanplus through libfreeipmi. One RMCP+ session per
// action (open, commands, close): BMCs drop idle sessions and limit how many
// they keep, so holding one between rare power actions only adds failures.
#include <cstdint>
#include <string>

#include "core/secret.h"
#include "ipmi/power_driver.h"

namespace metalpxe {

struct IpmiTarget {
  std::string host;  // "host" or "host:port" (FreeIPMI parses the port)
  std::string username;
  Secret password;
  int cipher_suite = 3;
  std::uint32_t workaround_flags = 0;  // IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_*
};

class IpmiPowerDriver final : public PowerDriver {
 public:
  IpmiPowerDriver(IpmiTarget target, PowerContext context);

  std::string_view Kind() const override { return "ipmi"; }
  PowerCapabilities Capabilities() const override;
  Result<PowerState> GetPowerState() override;
  Status PowerOn() override;
  Status PowerOff() override;
  Status PowerCycle() override;
  Status SetNextBootNetwork(bool efi) override;

 private:
  IpmiTarget target_;
  PowerContext context_;
};

}  // namespace metalpxe
