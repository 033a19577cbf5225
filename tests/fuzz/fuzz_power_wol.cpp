// libFuzzer target: the wake-on-LAN magic packet parser, and build/parse
// round trip for the MAC in the first 6 bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "ipmi/wol_packet.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace metalpxe;
  (void)ParseMagicPacket(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size));
  if (size >= 6) {
    MacAddress mac;
    for (int i = 0; i < 6; ++i) mac.bytes[i] = data[i];
    if (ParseMagicPacket(BuildMagicPacket(mac)) != mac) std::abort();
  }
  return 0;
}
