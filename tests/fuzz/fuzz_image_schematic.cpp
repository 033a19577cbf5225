// libFuzzer target: the schematic reader that turns talos-image.yaml into an
// Image Factory schematic ID, over arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/image_schematic.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)metalpxe::SchematicIdOf(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
