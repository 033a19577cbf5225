#pragma once
// Renders the Talos machine config one machine fetches: the profile's base
// config for the machine's role (`talosctl gen config` output), the profile's
// patches, the inventory shorthands, then the machine's own patches, merged
// the way talosctl merges (strategic_merge.h).
//
// Where the shorthands land (what Talos reads):
//   installDisk -> machine.install.disk (before the machine's patches, so they
//                  can still change it);
//   ip          -> an entry of machine.network.interfaces selected by
//                  `deviceSelector: {hardwareAddr: <first MAC>}` (Talos >= 1.3),
//                  with `addresses: [<ip>/<prefix>]` (prefix of the DHCP subnet
//                  holding the ip, /24 when none), a default route via that
//                  subnet's router, `dhcp: false`; placed first in the list
//                  unless the list already holds an entry with that selector,
//                  which it then merges into. The subnet's DNS servers become
//                  machine.network.nameservers when nothing set any;
//   name        -> machine.network.hostname, only when neither the base nor a
//                  patch set one and no HostnameConfig document is present.
//
// The base file may hold several documents (newer Talos): only the v1alpha1
// one (`version: v1alpha1`, or the legacy document with `machine:`) takes the
// v1alpha1 merge rules; a patch that carries apiVersion/kind merges into the
// document with the same apiVersion, kind and name, or is appended. Other
// documents pass through in their order.
//
// Pure apart from reading the base file. Errors are human messages naming
// files, patches and key paths, never values: configs hold cluster CA keys
// and tokens.
#include <string>

#include "core/config.h"
#include "core/result.h"

namespace metalpxe {

Result<std::string> RenderMachineConfig(const AppConfig& app, const MachineConfig& machine);

}  // namespace metalpxe
