#pragma once
// Writes YamlValue trees as block-style YAML that reads back to the same data:
// strings that would read as another type ("0755", "true", "") are quoted,
// multi-line strings (inline manifests) become literal blocks (`|`, `|-`,
// `|+`) when that form reads back byte-for-byte and double-quoted escapes
// otherwise. yaml-cpp's own emitter does neither (it drops the quotes of
// "0755" and writes multi-line text as one escaped line), hence this writer.
#include <string>
#include <vector>

#include "core/install/yaml_tree.h"

namespace metalpxe {

// One document, ending in a newline, without a leading `---`.
std::string WriteYaml(const YamlValue& document);

// Several documents separated by `---` lines.
std::string WriteYamlDocuments(const std::vector<YamlValue>& documents);

}  // namespace metalpxe
