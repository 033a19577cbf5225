#pragma once
// JSON Patch (RFC 6902) over YamlValue trees: the six operations add, remove,
// replace, move, copy and test, with JSON Pointer paths (json_pointer.h).
// talosctl takes such patches as a YAML or JSON list of operations and
// applies them to a single-document machine config (talos_patch.h says when).
//
// Why not nlohmann::json::patch (Debian's nlohmann-json, linked elsewhere in
// metalpxe): it works on JSON values, so the config would make a round trip
// through JSON, which rewrites YAML scalars ("0755", literal-block manifests,
// quoted numbers) in ways the writer then cannot restore. Operating on the
// YAML tree keeps every untouched scalar as it was written.
//
// Strictly RFC 6902: the operations apply in order to a copy, and the
// document changes only when all of them succeeded; `test` compares as JSON
// does (numbers by value, maps regardless of key order). Messages name the
// operation and its pointers, never values.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/install/json_pointer.h"
#include "core/install/yaml_tree.h"
#include "core/result.h"

namespace metalpxe {

enum class JsonPatchOpKind { kAdd, kRemove, kReplace, kMove, kCopy, kTest };
std::string_view JsonPatchOpName(JsonPatchOpKind kind);

struct JsonPatchOp {
  JsonPatchOpKind kind = JsonPatchOpKind::kAdd;
  JsonPointer path;
  JsonPointer from;  // move, copy
  YamlValue value;   // add, replace, test
};

// Reads a list of operation maps (`op`, `path`, `from`, `value`; other
// members are ignored, as RFC 6902 says). `name` prefixes messages.
// `failed_op`, when given, receives the index of the operation at fault.
Result<std::vector<JsonPatchOp>> ParseJsonPatch(const YamlValue& list, std::string_view name,
                                                std::size_t* failed_op = nullptr);

// Applies the operations in order. On failure `document` is unchanged and
// `failed_op` (when given) holds the index of the failing operation.
Status ApplyJsonPatch(YamlValue& document, const std::vector<JsonPatchOp>& ops, std::string_view name,
                      std::size_t* failed_op = nullptr);

// Equality as JSON sees it (RFC 6902 section 4.6), over YAML scalars resolved
// with the core schema.
bool JsonEqual(const YamlValue& a, const YamlValue& b);

}  // namespace metalpxe
