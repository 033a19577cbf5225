#include "ipmi/wol_packet.h"

namespace metalpxe {

std::array<std::byte, kMagicPacketSize> BuildMagicPacket(const MacAddress& mac) {
  std::array<std::byte, kMagicPacketSize> out{};
  for (std::size_t i = 0; i < 6; ++i) out[i] = std::byte{0xFF};
  for (std::size_t rep = 0; rep < 16; ++rep)
    for (std::size_t i = 0; i < 6; ++i) out[6 + rep * 6 + i] = std::byte{mac.bytes[i]};
  return out;
}

std::optional<MacAddress> ParseMagicPacket(std::span<const std::byte> packet) {
  if (packet.size() != kMagicPacketSize && packet.size() != kMagicPacketSize + 4 &&
      packet.size() != kMagicPacketSize + 6)
    return std::nullopt;
  for (std::size_t i = 0; i < 6; ++i)
    if (packet[i] != std::byte{0xFF}) return std::nullopt;
  MacAddress mac;
  for (std::size_t i = 0; i < 6; ++i) mac.bytes[i] = std::to_integer<std::uint8_t>(packet[6 + i]);
  for (std::size_t rep = 1; rep < 16; ++rep)
    for (std::size_t i = 0; i < 6; ++i)
      if (std::to_integer<std::uint8_t>(packet[6 + rep * 6 + i]) != mac.bytes[i]) return std::nullopt;
  return mac;
}

}  // namespace metalpxe
