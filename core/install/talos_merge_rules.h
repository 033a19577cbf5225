#pragma once
// Which fields of which Talos config document kinds merge differently from
// the default, as Talos's typed merge does (pkg/machinery/config/merge and the
// Merge methods and `merge:"replace"` tags of pkg/machinery/config/types, read
// at siderolabs/talos ad8823176, Talos 1.15-dev, which holds every kind of
// 1.14 and earlier). metalpxe merges plain YAML trees, so this table stands in
// for the Go types: without it every list would append and every map merge.
//
// Paths are dotted keys from the document root; "[]" stands for "any item of
// this list" (machine.network.interfaces[].vlans).
#include <string_view>

namespace metalpxe {

enum class FieldMerge {
  kDefault,        // maps merge key by key, lists append, scalars replace
  kReplace,        // `merge:"replace"`: the patch's value replaces the config's
  kKeyedList,      // a Merge method: items with an equal key merge, others append
  kKeyedReplace,   // a Merge method: items with an equal key are replaced, others append
  kNetworkDevices, // NetworkDeviceList.Merge: by `interface`, else by an equal `deviceSelector`
  kArgs,           // meta.Args.Merge: each key's value is replaced whole (maps.Copy)
};

struct FieldRule {
  FieldMerge merge = FieldMerge::kDefault;
  std::string_view key;  // kKeyedList, kKeyedReplace: the item field that identifies an item
  bool numeric_key = false;  // the key is a number (vlanId: 0 when absent)
};

// The rule for `path` in a document of this kind. v1alpha1 (the legacy
// `version: v1alpha1` document) is kind "v1alpha1" with an empty apiVersion.
FieldRule MergeRuleAt(std::string_view api_version, std::string_view kind, std::string_view path);

// True when `path` is a free-form map in Go (map[string]..., meta.Args,
// meta.Unstructured) or lies inside one. Talos's `$patch: delete` of a key
// missing from such a map fails ("lookup failed"), while clearing an unset
// struct field succeeds; and the items of lists inside them (plain maps, not
// structs) cannot be selected for deletion.
bool IsFreeFormMap(std::string_view api_version, std::string_view kind, std::string_view path);

}  // namespace metalpxe
