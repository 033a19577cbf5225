#pragma once
// Which boot file a DHCP answer names: asked of core (the provisioning
// service's LoaderFor in the daemon) for every boot client, on the DHCP
// loop, so it must be cheap.
#include <functional>
#include <memory>

#include "core/boot_client.h"
#include "core/config.h"
#include "core/provisioning/boot_files.h"

namespace metalpxe::dhcp {

using BootPolicy = std::function<LoaderChoice(const BootClient& client, const MacAddress& mac)>;

// The policy without a running service (tools, tests): core's DecideLoader
// over the config snapshot, inventory machines as pending-install and
// others as discovered, loaders looked up in tftpRoot.
BootPolicy StandaloneBootPolicy(std::function<std::shared_ptr<const AppConfig>()> config);

}  // namespace metalpxe::dhcp
