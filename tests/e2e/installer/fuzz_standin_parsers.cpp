// libFuzzer target for the stand-in installer's parsers: kernel command
// line, /dev/kmsg records (and their JSON rendering), Talos config identity
// and the facts the stand-in acts on (disk, network, PKI).
// The first byte picks the parser so one corpus exercises all three.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/e2e/installer/kernel_cmdline.h"
#include "tests/e2e/installer/kmsg_record.h"
#include "tests/e2e/installer/machine_config_facts.h"
#include "tests/e2e/installer/talos_config_identity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0:
      (void)metalpxe::standin::StandinArgsFromCmdline(text);
      break;
    case 1:
      if (auto r = metalpxe::standin::ParseKmsgRecord(text); r.ok()) {
        (void)metalpxe::standin::TalosKmsgJsonLine(*r, 1'700'000'000'000'000ull);
      }
      break;
    default:
      (void)metalpxe::standin::IdentityFromTalosConfig(text);
      (void)metalpxe::standin::FactsFromTalosConfig(text, "eth0", "52:54:00:e2:e0:01");
      break;
  }
  return 0;
}
