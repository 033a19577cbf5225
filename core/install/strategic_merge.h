#pragma once
// Talos strategic merge over plain YAML trees, following talosctl
// (siderolabs/talos pkg/machinery/config/merge/merge.go and
// pkg/machinery/config/configpatcher, read for this module):
//
// - maps merge key by key, recursively; a scalar in the patch replaces the
//   config's; a null in the patch changes nothing;
// - lists APPEND the patch's items to the config's ("if it is a slice, merged
//   by concatenating the right to the left"), except
//   - fields tagged `merge:"replace"` in v1alpha1_types.go, whose list or map
//     the patch replaces: cluster.network.podSubnets,
//     cluster.network.serviceSubnets, cluster.apiServer.auditPolicy;
//   - lists with their own Merge method, merged item by item on a key (an
//     item with a new key is appended): machine.network.interfaces by
//     `interface`, else by `deviceSelector` (NetworkDeviceList.Merge);
//     machine.network.interfaces[].vlans by `vlanId` (VlanList.Merge);
//     cluster.apiServer.admissionControl by `name`
//     (AdmissionPluginConfigList.Merge).
//   cluster.inlineManifests has no Merge method in Talos: a patch's manifests
//   are appended, and their contents are never touched here;
// - `$patch: delete` (configloader/internal/decoder/delete.go and
//   selector.go): `key: {$patch: delete}` removes the key; a list item
//   `{name: x, $patch: delete}` removes the first item of that list whose
//   `name` (the item's first other key) is `x`. Deletes run before the rest of
//   the same patch merges, so "delete, then set" replaces any list. Deleting
//   something absent is an error, as in Talos ("lookup failed"), and so is a
//   delete nested inside a list item or at the document root.
//
// One deliberate difference: Talos skips zero values ("" and 0) of non-pointer
// fields in a patch because it merges typed structs; here every scalar in a
// patch replaces, which is what a YAML patch says.
#include <string_view>

#include "core/install/yaml_tree.h"
#include "core/result.h"

namespace metalpxe {

enum class MergeRules {
  kV1Alpha1,  // the v1alpha1 document: replace fields and keyed lists above
  kGeneric,   // other documents (apiVersion/kind): maps merge, lists append
};

// Applies `patch` (a map) to `document`. `patch_name` names the patch in
// messages ("machine cp-1 patch 2"); messages name paths, never values.
Status ApplyStrategicPatch(YamlValue& document, YamlValue patch, std::string_view patch_name, MergeRules rules);

}  // namespace metalpxe
