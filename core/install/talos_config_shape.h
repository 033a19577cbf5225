#pragma once
// Which Talos release a machine config is written for, so the inventory
// shorthands land where that release reads them:
//   Talos 1.12+ moved hostname, addresses, routes and resolvers into their own
//   documents (HostnameConfig, LinkAliasConfig + LinkConfig, ResolverConfig)
//   and `talosctl gen config` stopped writing them under machine.network;
//   Talos 1.14+ installs from an UnattendedInstallConfig document, which
//   cannot stand beside machine.install.
// The profile's talosVersion decides when it has one (Image Factory
// profiles). Otherwise the documents of the profile's config (base and
// profile patches) do: the newest document kind they hold tells the release
// that wrote them (kinds as registered in siderolabs/talos v1.12.0, v1.13.0
// and v1.14.0-rc.1); a config of only a v1alpha1 document is older than 1.12;
// one without a v1alpha1 document is current (1.14).
#include <optional>
#include <string_view>
#include <vector>

#include "core/install/yaml_tree.h"

namespace metalpxe {

struct TalosRelease {
  int major = 1;
  int minor = 14;
  bool operator<(const TalosRelease& o) const { return major != o.major ? major < o.major : minor < o.minor; }
  bool AtLeast(int maj, int min) const { return !(*this < TalosRelease{maj, min}); }
};

// "v1.14.0", "v1.9.5", "v1.14.0-rc.1" (a leading 'v' is optional).
std::optional<TalosRelease> ParseTalosRelease(std::string_view version);

// The release the shorthands write for (see above).
TalosRelease ReleaseForConfig(std::string_view profile_version, const std::vector<YamlValue>& documents);

// The Talos release a document kind first appeared in, for kinds of 1.12 and
// later; nullopt for older kinds and unknown ones.
std::optional<TalosRelease> KindIntroducedIn(std::string_view kind);

}  // namespace metalpxe
