#pragma once
// The Internet checksum (RFC 1071): one's complement of the one's complement
// sum of 16-bit words, for IPv4 headers, UDP and ICMP. Pure.
#include <cstdint>
#include <span>

namespace metalpxe::dhcp {

// Sum of `data` as big-endian 16-bit words (odd tail padded with zero),
// carried into `initial` (a partial sum, e.g. of a UDP pseudo-header);
// not folded, not complemented.
std::uint32_t InternetSum(std::span<const std::uint8_t> data, std::uint32_t initial = 0);

// Folds and complements a sum from InternetSum: the checksum field's value.
std::uint16_t InternetChecksumOf(std::uint32_t sum);

inline std::uint16_t InternetChecksum(std::span<const std::uint8_t> data) {
  return InternetChecksumOf(InternetSum(data));
}

}  // namespace metalpxe::dhcp
