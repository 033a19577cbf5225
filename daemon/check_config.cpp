#include "daemon/check_config.h"

#include "core/config_loader.h"

namespace metalpxe {
namespace {

// "1 profile", "3 profiles".
std::string Counted(std::size_t n, const char* noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

}  // namespace

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
  out << c.file << ": valid: dhcp " << DhcpModeName(c.dhcp.mode) << ", " << Counted(c.dhcp.subnets.size(), "subnet");
  // DHCPv6 only where it is on: existing summaries stay as they were.
  if (c.dhcp6.mode != DhcpMode::kOff)
    out << ", dhcp6 " << DhcpModeName(c.dhcp6.mode) << ", " << Counted(c.dhcp6.subnets.size(), "IPv6 subnet");
  out << ", " << Counted(c.profiles.size(), "profile") << ", " << Counted(c.clusters.size(), "cluster") << ", "
      << Counted(c.inventory->machines.size(), "machine") << " (" << with_bmc << " with a BMC), "
      << "unknown machines: " << UnknownMachinePolicyName(c.boot.unknown_machines) << "\n";
  return 0;
}

}  // namespace metalpxe
