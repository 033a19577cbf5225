#pragma once
// bmc.type wol: power on only, by a magic packet broadcast (255.255.255.255,
// UDP port 9) out of the serving interface. Off, cycle and network boot are
// unsupported: a machine woken this way boots whatever its firmware says.
#include <string>

#include "ipmi/power_driver.h"

namespace metalpxe {

class WolPowerDriver final : public PowerDriver {
 public:
  // interface: bound with SO_BINDTODEVICE so the broadcast leaves where the
  // machines are (empty: the routing table decides).
  WolPowerDriver(MacAddress mac, std::string interface, std::uint16_t port = 9);

  std::string_view Kind() const override { return "wol"; }
  PowerCapabilities Capabilities() const override;
  Result<PowerState> GetPowerState() override { return PowerState::kUnknown; }
  Status PowerOn() override;
  Status PowerOff() override;
  Status PowerCycle() override;
  Status SetNextBootNetwork(bool efi) override;

 private:
  MacAddress mac_;
  std::string interface_;
  std::uint16_t port_;
};

// Sends one magic packet for mac as a UDP broadcast; exposed for tests.
Status SendMagicPacket(const MacAddress& mac, const std::string& interface, std::uint16_t port);

}  // namespace metalpxe
