#include "ipmi/ipmi_driver.h"
#include "ipmi/manual_driver.h"
#include "ipmi/power_driver.h"
#include "ipmi/redfish_driver.h"
#include "ipmi/robot_driver.h"
#include "ipmi/wol_driver.h"

namespace metalpxe {

Result<std::unique_ptr<PowerDriver>> MakePowerDriver(const BmcConfig& bmc, const MacAddress& mac,
                                                     const PowerContext& context) {
  switch (bmc.type) {
    case BmcType::kIpmi: {
      if (bmc.address.empty()) return Status{ErrorCode::kInvalidArgument, "ipmi BMC needs an address (host[:port])"};
      if (bmc.cipher_suite < 0 || bmc.cipher_suite > 17)
        return Status{ErrorCode::kInvalidArgument, "ipmi cipherSuite must be 0..17"};
      IpmiTarget t{bmc.address, bmc.username, bmc.password, bmc.cipher_suite, bmc.workaround_flags};
      return std::unique_ptr<PowerDriver>(new IpmiPowerDriver(std::move(t), context));
    }
    case BmcType::kRedfish: {
      auto target = ParseRedfishAddress(bmc.address);
      if (!target.ok()) return target.status();
      target->username = bmc.username;
      target->password = bmc.password;
      target->insecure_tls = bmc.insecure_tls;
      return std::unique_ptr<PowerDriver>(new RedfishPowerDriver(std::move(target).value(), context));
    }
    case BmcType::kHetznerRobot: {
      const std::string& n = bmc.address;
      if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos)
        return Status{ErrorCode::kInvalidArgument, "hetzner-robot bmc.address must be the server number"};
      // The machine's own rescue key (bmc.sshKeyFile) and its fingerprint
      // as derived at config load; the context's key is a test's fallback.
      PowerContext robot_context = context;
      if (!bmc.ssh_key_file.empty()) robot_context.ssh_private_key_file = bmc.ssh_key_file;
      robot_context.ssh_key_fingerprint = bmc.ssh_key_fingerprint;
      robot_context.install_method = bmc.install_method;
      return std::unique_ptr<PowerDriver>(new RobotPowerDriver(n, bmc.username, bmc.password, robot_context));
    }
    case BmcType::kWol:
      return std::unique_ptr<PowerDriver>(new WolPowerDriver(mac, context.interface, context.wol_port));
    case BmcType::kManual:
      return std::unique_ptr<PowerDriver>(new ManualPowerDriver());
    default:
      break;
  }
  return Status{ErrorCode::kUnsupported, std::string("no power driver for bmc type ") + std::string(BmcTypeName(bmc.type))};
}

}  // namespace metalpxe
