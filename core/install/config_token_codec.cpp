#include "core/install/config_token_codec.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace metalpxe {
namespace {

constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kBodyBytes = 23;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kTokenBytes = kBodyBytes + kTagBytes;  // 39 bytes -> 52 base64url characters
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

using Body = std::array<std::uint8_t, kBodyBytes>;
using Tag = std::array<std::uint8_t, kTagBytes>;

int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// 39 bytes are exactly 13 groups of 3: no partial group, no padding.
std::string Encode(const std::array<std::uint8_t, kTokenBytes>& raw) {
  std::string out;
  out.reserve(kTokenChars);
  for (std::size_t i = 0; i < raw.size(); i += 3) {
    const std::uint32_t v = std::uint32_t(raw[i]) << 16 | std::uint32_t(raw[i + 1]) << 8 | raw[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(v >> shift) & 0x3F];
  }
  return out;
}

std::optional<std::array<std::uint8_t, kTokenBytes>> Decode(std::string_view text) {
  if (text.size() != kTokenChars) return std::nullopt;
  std::array<std::uint8_t, kTokenBytes> raw{};
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

Body BodyOf(const TokenClaims& c) {
  Body b{};
  b[0] = kVersion;
  for (std::size_t i = 0; i < 6; ++i) b[1 + i] = c.mac.bytes[i];
  const std::uint32_t ip = c.bound_ip ? c.bound_ip->value : 0;
  const auto exp = static_cast<std::uint32_t>(c.expires_unix);
  for (int i = 0; i < 4; ++i) {
    b[7 + i] = static_cast<std::uint8_t>(ip >> (24 - 8 * i));
    b[11 + i] = static_cast<std::uint8_t>(exp >> (24 - 8 * i));
  }
  for (std::size_t i = 0; i < c.nonce.size(); ++i) b[15 + i] = c.nonce[i];
  return b;
}

Tag TagOf(const Body& body, std::span<const std::uint8_t, kTokenKeyBytes> key) {
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
  const Body body = BodyOf(claims);
  const Tag tag = TagOf(body, key);
  std::array<std::uint8_t, kTokenBytes> raw{};
  std::copy(body.begin(), body.end(), raw.begin());
  std::copy(tag.begin(), tag.end(), raw.begin() + kBodyBytes);
  return Encode(raw);
}

std::optional<TokenClaims> VerifyToken(std::string_view token, std::span<const std::uint8_t, kTokenKeyBytes> key) {
  const auto raw = Decode(token);
  if (!raw || (*raw)[0] != kVersion) return std::nullopt;
  Body body{};
  std::copy_n(raw->begin(), kBodyBytes, body.begin());
  const Tag expected = TagOf(body, key);
  if (CRYPTO_memcmp(expected.data(), raw->data() + kBodyBytes, kTagBytes) != 0) return std::nullopt;
  TokenClaims c;
  std::copy_n(body.begin() + 1, 6, c.mac.bytes.begin());
  std::uint32_t ip = 0, exp = 0;
  for (int i = 0; i < 4; ++i) {
    ip = ip << 8 | body[7 + i];
    exp = exp << 8 | body[11 + i];
  }
  if (ip != 0) c.bound_ip = Ipv4Address{ip};
  c.expires_unix = exp;
  std::copy_n(body.begin() + 15, c.nonce.size(), c.nonce.begin());
  return c;
}

}  // namespace metalpxe
