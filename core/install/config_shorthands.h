#pragma once
// The inventory shorthands (installDisk, ip, the machine's name, the subnet's
// DNS servers) written into a machine config where its Talos release reads
// them (talos_config_shape.h). Each goes where the config already keeps that
// setting when it has one (an UnattendedInstallConfig, machine.install, a
// HostnameConfig, a ResolverConfig...), else where the release expects it:
//
//   installDisk  1.14+: UnattendedInstallConfig provisioning.diskSelector.match
//                  (`disk.dev_path == "<disk>"`, as `talosctl gen config`
//                  writes it; `"<disk>" in disk.symlinks` for /dev/disk/...
//                  paths); before: machine.install.disk.
//   ip           1.12+: a LinkAliasConfig `mgmt0` selecting the first MAC
//                  (`mac(link.hardware_addr) == "<mac>"`) and a LinkConfig of
//                  that alias with the address and a default route via the
//                  subnet's router; before: a machine.network.interfaces entry
//                  with `deviceSelector: {hardwareAddr: <mac>}`, `dhcp: false`.
//   nameservers  (the subnet's DNS, with ip, when nothing set any) 1.12+:
//                  ResolverConfig nameservers; before: machine.network.nameservers.
//   hostname     (the machine's name, when nothing set one) 1.12+: a
//                  HostnameConfig `{hostname: <name>, auto: off}` (what
//                  talosctl's static-hostname patch writes; `auto: stable` of
//                  gen config gives way); before: machine.network.hostname.
//
// Pure functions over the documents; messages name paths, never values.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/install/talos_config_shape.h"
#include "core/install/yaml_tree.h"
#include "core/net_types.h"
#include "core/result.h"

namespace metalpxe {

Status ApplyInstallDiskShorthand(std::vector<YamlValue>& docs, TalosRelease release, const std::string& disk,
                                 std::string_view context);

struct StaticAddress {
  MacAddress mac;
  Ipv4Address ip;
  int prefix_length = 24;
  std::optional<Ipv4Address> router;
};
Status ApplyStaticAddressShorthand(std::vector<YamlValue>& docs, TalosRelease release, const StaticAddress& address,
                                   std::string_view context);

// Only when no document sets nameservers already.
Status ApplyDefaultNameservers(std::vector<YamlValue>& docs, TalosRelease release,
                               const std::vector<Ipv4Address>& servers, std::string_view context);

// Only when no document sets a static hostname already.
Status ApplyDefaultHostname(std::vector<YamlValue>& docs, TalosRelease release, const std::string& name,
                            std::string_view context);

// The CEL expressions the shorthands write (exposed for tests).
std::string InstallDiskSelector(const std::string& disk);
std::string LinkSelectorForMac(const MacAddress& mac);

}  // namespace metalpxe
