#include "dhcp/boot_policy.h"

#include <filesystem>

#include "core/provisioning/boot_decision.h"

namespace metalpxe::dhcp {

BootPolicy StandaloneBootPolicy(std::function<std::shared_ptr<const AppConfig>()> config) {
  return [config = std::move(config)](const BootClient& client, const MacAddress& mac) {
    const auto cfg = config();
    const bool known = cfg->inventory && cfg->inventory->FindByMac(mac);
    const auto exists = [&](std::string_view file) {
      std::error_code ec;
      return std::filesystem::exists(std::filesystem::path(cfg->server.tftp_root) / file, ec);
    };
    return DecideLoader(*cfg, client, mac, known ? MachineState::kPendingInstall : MachineState::kDiscovered, exists);
  };
}

}  // namespace metalpxe::dhcp
