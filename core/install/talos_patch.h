#pragma once
// A Talos config patch and how talosctl applies it to a (multi-document)
// machine config (siderolabs/talos pkg/machinery/config/configpatcher:
// load.go, apply.go, strategic.go, json6902.go, read at ad8823176):
//
// - a strategic merge patch is one or more documents. Each is matched to the
//   config document with the same apiVersion, kind and name (the v1alpha1
//   document by itself) and merged into it (strategic_merge.h), or appended
//   when the config has none. A document-level `$patch: delete` removes the
//   matching document; since Talos 1.14 a delete (of a document or of a path
//   inside one) whose document the config does not have is skipped;
// - a JSON6902 patch is a list of operations (json_patch.h). talosctl applies
//   it only to a single-document config and refuses it otherwise ("JSON6902
//   patches are not supported for multi-document machine configuration").
//
// In metalpxe's config a patch is one YAML value: a map is a strategic patch
// document, a list is a JSON6902 patch. Several documents are several
// patches, which merge exactly as one multi-document patch does.
#include <cstddef>
#include <string_view>
#include <vector>

#include "core/install/json_patch.h"
#include "core/install/yaml_tree.h"
#include "core/result.h"

namespace metalpxe {

struct TalosPatch {
  enum class Kind { kStrategic, kJson6902 };
  Kind kind = Kind::kStrategic;
  std::vector<YamlValue> documents;  // kStrategic
  std::vector<JsonPatchOp> operations;  // kJson6902
};

// One patch as written in metalpxe's config: a map or a list of operations.
// `failed_item` (when given) receives the index of the operation at fault.
Result<TalosPatch> PatchFromValue(const YamlValue& value, std::string_view name, std::size_t* failed_item = nullptr);

// A patch file as talosctl reads one (configpatcher.LoadPatch): YAML
// documents of a strategic patch, or a YAML/JSON list of operations.
Result<TalosPatch> PatchFromText(std::string_view text, std::string_view name);

// Applies `patch` to the config's documents. On failure `config` may be
// partly patched (callers render from a copy) and `failed_item` (when given)
// holds the index of the patch document or JSON6902 operation at fault, or
// kWholePatch when the patch as a whole does not fit the config.
inline constexpr std::size_t kWholePatch = static_cast<std::size_t>(-1);
Status ApplyTalosPatch(std::vector<YamlValue>& config, const TalosPatch& patch, std::string_view name,
                       std::size_t* failed_item = nullptr);

// Checks that a machine config's documents are Talos documents (strategic_merge.h
// IdentifyDocument) and that no two have the same apiVersion/kind/name.
Status CheckConfigDocuments(const std::vector<YamlValue>& config, std::string_view what);

}  // namespace metalpxe
