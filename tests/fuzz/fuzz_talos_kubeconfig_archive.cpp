// libFuzzer target: ExtractKubeconfig over arbitrary bytes (what a hostile
// node could stream as its "kubeconfig" archive).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "talos/kubeconfig_archive.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)metalpxe::talos::ExtractKubeconfig(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
