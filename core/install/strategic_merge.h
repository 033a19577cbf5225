#pragma once
// Talos's strategic merge of one patch document into one config document, on
// plain YAML trees, following talosctl (siderolabs/talos
// pkg/machinery/config/merge/merge.go, configloader/internal/decoder
// delete.go and selector.go, read at ad8823176):
//
// - maps merge key by key, recursively; lists append the patch's items; a
//   scalar in the patch replaces the config's, except that "" and 0 never
//   replace a value that is there (Talos skips zero values; `false` does
//   replace); null in the patch changes nothing;
// - the per-kind exceptions of talos_merge_rules.h: `merge:"replace"` fields,
//   lists merged by a key (interfaces, vlans, admission plugins, extension
//   service configFiles, image verification rules) and meta.Args maps, whose
//   keys are replaced whole;
// - `$patch: delete` (DeleteSelector): `key: {$patch: delete}` removes the key,
//   a list item `{field: value, $patch: delete}` removes the first item of that
//   list whose `field` equals `value`. Deletes are taken out of the patch
//   (with the maps and lists they leave empty) and run before the rest of the
//   same document merges. A delete whose path runs through something absent
//   fails ("lookup failed"), as does deleting a key that a free-form map does
//   not hold or an item no list holds; clearing an unset field of a Go struct
//   succeeds, as in Talos.
//
// Where the typeless tree cannot follow Talos: Talos writes "" and 0 through
// pointer fields (`*int`), metalpxe skips them everywhere; a list item is
// selected for deletion by the text of its field, where Talos compares only
// string (or Stringer) fields. Messages name paths, never values.
#include <string>
#include <string_view>
#include <vector>

#include "core/install/yaml_tree.h"
#include "core/result.h"

namespace metalpxe {

// What a config document is, as Talos keys documents: the legacy v1alpha1
// document is apiVersion "" kind "v1alpha1"; `name` is the document's name
// field ("" when it has none).
struct DocumentId {
  std::string api_version;
  std::string kind;
  std::string name;
  bool operator==(const DocumentId&) const = default;
  std::string ToString() const;  // "v1alpha1/LinkConfig/eth0", "/v1alpha1"
};

// Identifies a config or patch document as Talos's decoder does: `kind` with
// `apiVersion`, or the v1alpha1 document (`version: v1alpha1`, or any of
// machine/cluster/debug/persist). The v1alpha1 document may hold only those
// top-level keys (Talos's decoder refuses unknown keys).
Result<DocumentId> IdentifyDocument(const YamlValue& doc, std::string_view what);

struct DeleteSelector {
  std::vector<std::string> path;  // keys from the document root
  bool list_item = false;         // path names a list; remove the item whose `key` is `value`
  std::string key;
  std::string value;
};

// Takes the `$patch: delete` markers out of a patch document. Sets
// `*whole_document` for a document-level delete (which needs apiVersion and
// kind), and `*nothing_left` when no content remains to merge (only
// version/kind/name, as Talos's isEmptyDoc).
Status ExtractDeletes(YamlValue& patch, std::vector<DeleteSelector>* selectors, bool* whole_document,
                      bool* nothing_left, std::string_view patch_name);

Status ApplyDelete(YamlValue& document, const DocumentId& id, const DeleteSelector& selector,
                   std::string_view patch_name);

// Merges `patch` (free of delete markers) into `document` of kind `id`.
Status MergeDocument(YamlValue& document, YamlValue patch, const DocumentId& id, std::string_view patch_name);

}  // namespace metalpxe
