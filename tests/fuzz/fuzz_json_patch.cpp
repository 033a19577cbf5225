// libFuzzer: JSON Pointer and JSON Patch parsing and application over a fixed
// document. Must never crash; a patch that fails leaves the document as it
// was; JsonEqual is reflexive; a pointer's text survives parse + format.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/install/json_patch.h"
#include "core/install/json_pointer.h"
#include "core/install/yaml_tree.h"

namespace {

constexpr std::string_view kDocument = R"({"foo": ["bar", "baz"], "": 0, "a/b": 1, "m~n": {"x": [1, 2.0, "3"]},
  "machine": {"network": {"hostname": h, "interfaces": [{interface: eth0, dhcp: true}]}, "certSANs": []}})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace metalpxe;
  static const YamlValue document = (*ParseYamlDocuments(kDocument, "document"))[0];
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // The raw input as a pointer.
  if (auto pointer = ParseJsonPointer(text); pointer.ok()) {
    if (FormatJsonPointer(*pointer) != text) __builtin_trap();
    (void)ResolveJsonPointer(document, *pointer);
  }

  // The input as a patch document.
  auto docs = ParseYamlDocuments(text, "patch");
  if (!docs.ok() || docs->empty()) return 0;
  std::size_t failed = 0;
  auto ops = ParseJsonPatch((*docs)[0], "patch", &failed);
  if (!ops.ok()) return 0;
  YamlValue doc = document;
  if (!ApplyJsonPatch(doc, *ops, "patch", &failed).ok()) {
    if (!SemanticallyEqual(doc, document)) __builtin_trap();
    return 0;
  }
  if (!JsonEqual(doc, doc)) __builtin_trap();
  return 0;
}
