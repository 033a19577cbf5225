#pragma once
// Lower-case hexadecimal of bytes (digests, keys, client identifiers, bytes
// that are not text). Pure.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace metalpxe {

std::string HexLower(std::span<const std::uint8_t> bytes);

inline std::string HexLower(std::string_view bytes) {
  return HexLower({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
}

}  // namespace metalpxe
