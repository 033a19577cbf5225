#pragma once
// Image Factory schematic IDs, computed here as Image Factory computes them,
// so a profile can name its `talos-image.yaml` instead of an ID looked up on
// factory.talos.dev (air-gapped sites, reviewable Git diffs).
//
// Image Factory (siderolabs/image-factory pkg/schematic) decodes the YAML
// strictly into its Schematic struct and takes the SHA-256 of gopkg.in/yaml.v3's
// rendering of that struct: fields in struct order, 4-space indentation,
// empty ones left out (`customization` is always there, `{}` when empty).
// We render the same text. Where yaml.v3 would quote or fold a value (a
// string that reads as a number or bool, a multi-line META value, overlay
// options) we cannot promise the same bytes, so we say so and ask for the ID.
#include <string>
#include <string_view>

#include "core/result.h"

namespace metalpxe {

// The canonical text Image Factory hashes; kInvalidArgument with the reason
// (unknown field, wrong type, a value we cannot render byte-exactly).
Result<std::string> CanonicalSchematicYaml(std::string_view schematic_yaml);
// Lower-case hex SHA-256 of the canonical text: the schematic ID.
Result<std::string> SchematicIdOf(std::string_view schematic_yaml);

}  // namespace metalpxe
