// Schematic IDs as Image Factory computes them: the expected IDs are the ones
// in siderolabs/image-factory's own tests (pkg/schematic/schematic_test.go)
// and a widely published one (i915-ucode + intel-ucode).
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "core/image_schematic.h"

namespace metalpxe {
namespace {

TEST(ImageSchematic, IdsMatchImageFactory) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{}", "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"},
      {"", "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"},
      {"customization: {}", "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"},
      {R"(customization: {"extraKernelArgs": []})", "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"},
      {R"({"customization": {"extraKernelArgs": ["noapic", "nolapic"]}})",
       "9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c"},
      {R"({"customization": {"extraKernelArgs": ["noapic", "nolapic"], "systemExtensions": {}}})",
       "9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c"},
      {R"({"customization": {"meta": [{"key": 10, "value": "foo"}], "extraKernelArgs": [], "systemExtensions": {}}})",
       "d308a2a5ee2277bed5fbaa104fcbc8d59122abfa737df987a95b4ca763459a7f"},
      {R"({"overlay": {"name": "rpi_generic", "image": "siderolabs/sbc-raspberrypi"}})",
       "ee21ef4a5ef808a9b7484cc0dda0f25075021691c8c09a276591eedb638ea1f9"},
      {R"({"overlay": {"name": "rpi_generic", "image": "siderolabs/sbc-raspberrypi"},"customization":{}})",
       "ee21ef4a5ef808a9b7484cc0dda0f25075021691c8c09a276591eedb638ea1f9"},
      {R"({"customization":{"secureboot": {"includeWellKnownCertificates": true}}})",
       "fa8e05f142a851d3ee568eb0a8e5841eaf6b0ebc8df9a63df16ac5ed2c04f3e6"},
      // Block style, as people write talos-image.yaml, and the same ID factory.talos.dev gives.
      {"customization:\n  systemExtensions:\n    officialExtensions:\n      - siderolabs/i915-ucode\n"
       "      - siderolabs/intel-ucode\n",
       "97bf8e92fc6bba0f03928b859c08295d7615737b29db06a97be51dc63004e403"},
  };
  for (const auto& [yaml, id] : cases) {
    auto got = SchematicIdOf(yaml);
    ASSERT_TRUE(got.ok()) << yaml << ": " << got.status().ToString();
    EXPECT_EQ(*got, id) << yaml << "\ncanonical:\n" << *CanonicalSchematicYaml(yaml);
  }
}

TEST(ImageSchematic, RefusesWhatImageFactoryRefusesOrWeCannotRenderExactly) {
  for (const char* bad : {"customization: {extraKernelArg: [x]}",       // unknown field (KnownFields)
                          "foo: 1",                                      // unknown top-level field
                          "customization: {extraKernelArgs: [\"yes\"]}", // yaml.v3 quotes YAML 1.1 bools
                          "customization: {extraKernelArgs: [\"1234\"]}",
                          "customization: {extraKernelArgs: [\"a #b\"]}",
                          "customization: {meta: [{key: 300, value: x}]}",
                          "customization: {meta: [{key: 10, value: \"a\\nb\"}]}",
                          "overlay: {image: x, name: y, options: {a: 1}}",
                          "customization: [1, 2]",
                          "[unclosed"}) {
    auto got = SchematicIdOf(bad);
    EXPECT_FALSE(got.ok()) << bad;
    EXPECT_EQ(got.status().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace metalpxe
