#pragma once
// Wake-on-LAN magic packet codec: 6 x 0xFF, then the MAC 16 times (102
// bytes). Pure functions, no I/O.
#include <array>
#include <cstddef>
#include <optional>
#include <span>

#include "core/net_types.h"

namespace metalpxe {

inline constexpr std::size_t kMagicPacketSize = 6 + 16 * 6;

std::array<std::byte, kMagicPacketSize> BuildMagicPacket(const MacAddress& mac);

// The MAC a magic packet wakes, or nullopt when `packet` is not one. Extra
// bytes after the 102 (a SecureOn password) are allowed, up to 6.
std::optional<MacAddress> ParseMagicPacket(std::span<const std::byte> packet);

}  // namespace metalpxe
