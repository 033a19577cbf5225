#pragma once
// The wire form of a config token, and its signature: a pure codec, so a
// token is checked without a lookup and without a disk.
//
//   byte  0      version (1)
//   bytes 1-6    the MAC it was issued for
//   bytes 7-10   the IPv4 address it is bound to (0.0.0.0: any address)
//   bytes 11-14  expiry, unix seconds, big-endian
//   bytes 15-22  nonce (random): names the token for its fetch count
//   bytes 23-38  HMAC-SHA256(key, bytes 0-22), first 128 bits
//
// base64url without padding: 52 characters, safe in a URL path and on a
// kernel command line.
//
// Version 2 binds an IPv6 address (an installer asked over IPv6, bound to
// the machine's DHCPv6 lease): bytes 7-22 hold it, the rest follows shifted
// by 12 (expiry 23-26, nonce 27-34, HMAC 35-50): 68 characters. A version-1
// token never names an IPv6 address and a version-2 one never an IPv4 one. A forged or altered token fails the HMAC; the key is
// 256 random bits kept in stateDir (token_key.h).
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/net_types.h"

namespace metalpxe {

inline constexpr std::size_t kTokenKeyBytes = 32;
inline constexpr std::size_t kTokenChars = 52;   // version 1 (IPv4 or unbound)
inline constexpr std::size_t kTokenChars6 = 68;  // version 2 (IPv6)

struct TokenClaims {
  MacAddress mac;
  std::optional<Ipv4Address> bound_ip;
  std::int64_t expires_unix = 0;  // 0 .. 2^32-1
  std::array<std::uint8_t, 8> nonce{};
  std::optional<Ipv6Address> bound_ip6{};  // version 2; never with bound_ip

  bool operator==(const TokenClaims&) const = default;
};

// The nonce as 16 hex digits: the token's name in fetch counts and the store.
std::string TokenId(const TokenClaims& claims);

std::string SignToken(const TokenClaims& claims, std::span<const std::uint8_t, kTokenKeyBytes> key);

// The claims of a well-formed token with a valid signature; nullopt for
// anything else (wrong length or alphabet, version, signature). Constant
// time in the signature comparison.
std::optional<TokenClaims> VerifyToken(std::string_view token, std::span<const std::uint8_t, kTokenKeyBytes> key);

}  // namespace metalpxe
