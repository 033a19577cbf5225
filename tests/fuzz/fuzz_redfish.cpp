// libFuzzer target: every Redfish codec over arbitrary bytes (BMC answers are
// untrusted input). Must never crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ipmi/redfish_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace metalpxe;
  (void)ParseRedfishServiceRoot(text);
  (void)ParseRedfishCollection(text);
  if (auto s = ParseRedfishSystem(text); s.ok()) {
    (void)ChooseRedfishCycle(s->reset_types);
    (void)ChooseRedfishOn(s->reset_types);
    (void)ChooseRedfishOff(s->reset_types);
  }
  (void)ParseRedfishActionInfo(text, "ResetType");
  (void)ParseRedfishError(text);
  (void)RedfishErrorIsUnsupportedValue(text);
  return 0;
}
