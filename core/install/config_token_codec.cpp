#include "core/install/config_token_codec.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <vector>

namespace metalpxe {
namespace {

// Version 1 binds an IPv4 address (4 bytes), version 2 an IPv6 one (16).
constexpr std::uint8_t kVersion4 = 1;
constexpr std::uint8_t kVersion6 = 2;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t BodyBytes(std::size_t address_bytes) { return 1 + 6 + address_bytes + 4 + 8; }
constexpr std::size_t Chars(std::size_t address_bytes) { return (BodyBytes(address_bytes) + kTagBytes) / 3 * 4; }
static_assert(Chars(4) == kTokenChars && (BodyBytes(4) + kTagBytes) % 3 == 0);
static_assert(Chars(16) == kTokenChars6 && (BodyBytes(16) + kTagBytes) % 3 == 0);
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

using Bytes = std::vector<std::uint8_t>;
using Tag = std::array<std::uint8_t, kTagBytes>;

int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Both lengths are whole groups of 3 bytes: no partial group, no padding.
std::string Encode(const Bytes& raw) {
  std::string out;
  out.reserve(raw.size() / 3 * 4);
  for (std::size_t i = 0; i + 2 < raw.size(); i += 3) {
    const std::uint32_t v = std::uint32_t(raw[i]) << 16 | std::uint32_t(raw[i + 1]) << 8 | raw[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(v >> shift) & 0x3F];
  }
  return out;
}

std::optional<Bytes> Decode(std::string_view text) {
  if (text.size() != kTokenChars && text.size() != kTokenChars6) return std::nullopt;
  Bytes raw(text.size() / 4 * 3);
  for (std::size_t i = 0, o = 0; i < text.size(); i += 4, o += 3) {
    std::uint32_t v = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const int d = Base64UrlValue(text[i + j]);
      if (d < 0) return std::nullopt;
      v = v << 6 | static_cast<std::uint32_t>(d);
    }
    raw[o] = static_cast<std::uint8_t>(v >> 16);
    raw[o + 1] = static_cast<std::uint8_t>(v >> 8);
    raw[o + 2] = static_cast<std::uint8_t>(v);
  }
  return raw;
}

Bytes BodyOf(const TokenClaims& c) {
  const bool v6 = c.bound_ip6.has_value();
  Bytes b;
  b.reserve(BodyBytes(16));
  b.push_back(v6 ? kVersion6 : kVersion4);
  b.insert(b.end(), c.mac.bytes.begin(), c.mac.bytes.end());
  if (v6) {
    b.insert(b.end(), c.bound_ip6->bytes.begin(), c.bound_ip6->bytes.end());
  } else {
    const std::uint32_t ip = c.bound_ip ? c.bound_ip->value : 0;
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(ip >> (24 - 8 * i)));
  }
  const auto exp = static_cast<std::uint32_t>(c.expires_unix);
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(exp >> (24 - 8 * i)));
  b.insert(b.end(), c.nonce.begin(), c.nonce.end());
  return b;
}

Tag TagOf(std::span<const std::uint8_t> body, std::span<const std::uint8_t, kTokenKeyBytes> key) {
  std::uint8_t full[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), body.data(), body.size(), full, &length);
  Tag tag{};
  std::copy_n(full, tag.size(), tag.begin());
  OPENSSL_cleanse(full, sizeof full);
  return tag;
}

}  // namespace

std::string TokenId(const TokenClaims& claims) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : claims.nonce) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
}

std::string SignToken(const TokenClaims& claims, std::span<const std::uint8_t, kTokenKeyBytes> key) {
  Bytes raw = BodyOf(claims);
  const Tag tag = TagOf(raw, key);
  raw.insert(raw.end(), tag.begin(), tag.end());
  return Encode(raw);
}

std::optional<TokenClaims> VerifyToken(std::string_view token, std::span<const std::uint8_t, kTokenKeyBytes> key) {
  const auto raw = Decode(token);
  if (!raw) return std::nullopt;
  const std::size_t address_bytes = token.size() == kTokenChars6 ? 16 : 4;
  if ((*raw)[0] != (address_bytes == 16 ? kVersion6 : kVersion4)) return std::nullopt;
  const std::size_t body_bytes = BodyBytes(address_bytes);
  const std::span<const std::uint8_t> body(raw->data(), body_bytes);
  const Tag expected = TagOf(body, key);
  if (CRYPTO_memcmp(expected.data(), raw->data() + body_bytes, kTagBytes) != 0) return std::nullopt;
  TokenClaims c;
  std::copy_n(body.begin() + 1, 6, c.mac.bytes.begin());
  std::size_t at = 7;
  if (address_bytes == 16) {
    Ipv6Address a;
    std::copy_n(body.begin() + 7, 16, a.bytes.begin());
    c.bound_ip6 = a;
  } else {
    std::uint32_t ip = 0;
    for (int i = 0; i < 4; ++i) ip = ip << 8 | body[7 + std::size_t(i)];
    if (ip != 0) c.bound_ip = Ipv4Address{ip};
  }
  at += address_bytes;
  std::uint32_t exp = 0;
  for (int i = 0; i < 4; ++i) exp = exp << 8 | body[at + std::size_t(i)];
  c.expires_unix = exp;
  std::copy_n(body.begin() + static_cast<std::ptrdiff_t>(at + 4), c.nonce.size(), c.nonce.begin());
  return c;
}

}  // namespace metalpxe
