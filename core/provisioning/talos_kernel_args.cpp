#include "core/provisioning/talos_kernel_args.h"

#include "core/provisioning/boot_urls.h"

namespace metalpxe {

std::vector<std::string> TalosKernelArgs(const ServerConfig& server, const ProfileConfig& profile,
                                         const MachineConfig* machine, const std::string& config_url, bool wipe,
                                         IpFamily family) {
  const std::string addr = ServerHost(server, family);
  std::vector<std::string> args = {
      "initrd=" + std::string(kInitramfsFileName),
      "talos.platform=metal",
      "console=tty0",
      "console=ttyS0",
      "talos.events.sink=" + addr + ":" + std::to_string(server.event_sink_port),
      "talos.logging.kernel=tcp://" + addr + ":" + std::to_string(server.kmsg_log_port),
      "init_on_alloc=1",
      "slab_nomerge",
      "pti=on",
      "printk.devkmsg=on",
  };
  // configDelivery apply: no talos.config, so Talos waits in maintenance
  // mode for ApplyConfiguration.
  if (!config_url.empty()) args.insert(args.begin() + 2, "talos.config=" + config_url);
  if (wipe) args.push_back("talos.experimental.wipe=system");
  for (const auto& a : profile.kernel_args) args.push_back(a);
  if (machine)
    for (const auto& a : machine->kernel_args) args.push_back(a);
  return args;
}

std::string JoinArgs(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) out += (out.empty() ? "" : " ") + a;
  return out;
}

}  // namespace metalpxe
