#include "daemon/check_config.h"

#include "core/config_loader.h"

namespace metalpxe {

int RunCheckConfig(const std::string& path, std::ostream& out, std::ostream& err) {
  const LoadedConfig loaded = LoadAppConfig(path);
  if (!loaded.ok()) {
    for (const auto& p : loaded.problems) err << p.ToString() << "\n";
    err << loaded.problems.size() << (loaded.problems.size() == 1 ? " problem" : " problems") << " in " << path
        << "\n";
    return 1;
  }
  const AppConfig& c = *loaded.config;
  std::size_t with_bmc = 0;
  for (const auto& m : c.inventory->machines) with_bmc += m.bmc.has_value();
  out << c.file << ": valid: dhcp " << DhcpModeName(c.dhcp.mode) << ", " << c.dhcp.subnets.size()
      << (c.dhcp.subnets.size() == 1 ? " subnet, " : " subnets, ") << c.profiles.size()
      << (c.profiles.size() == 1 ? " profile, " : " profiles, ") << c.inventory->machines.size()
      << (c.inventory->machines.size() == 1 ? " machine" : " machines") << " (" << with_bmc << " with a BMC), "
      << "unknown machines: " << UnknownMachinePolicyName(c.boot.unknown_machines) << "\n";
  return 0;
}

}  // namespace metalpxe
