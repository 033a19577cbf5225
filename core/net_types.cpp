#include "core/net_types.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstdio>
#include <cstring>

namespace metalpxe {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<MacAddress> MacAddress::Parse(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  const char sep = text[2];
  if (sep != ':' && sep != '-') return std::nullopt;
  MacAddress mac;
  for (int i = 0; i < 6; ++i) {
    const std::size_t at = static_cast<std::size_t>(i) * 3;
    if (i > 0 && text[at - 1] != sep) return std::nullopt;
    const int hi = HexDigit(text[at]);
    const int lo = HexDigit(text[at + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    mac.bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return mac;
}

std::string MacAddress::ToString() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2], bytes[3], bytes[4],
                bytes[5]);
  return buf;
}

std::string MacAddress::ToHyphenString() const {
  std::string s = ToString();
  for (char& c : s)
    if (c == ':') c = '-';
  return s;
}

std::optional<Ipv4Address> Ipv4Address::Parse(std::string_view text) {
  std::uint32_t value = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (p == end || *p != '.') return std::nullopt;
      ++p;
    }
    // No leading zeros beyond a lone "0": "010" is ambiguous (octal in inet_aton).
    if (p == end || *p < '0' || *p > '9') return std::nullopt;
    if (*p == '0' && p + 1 != end && p[1] >= '0' && p[1] <= '9') return std::nullopt;
    unsigned v = 0;
    auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc() || v > 255) return std::nullopt;
    value = (value << 8) | v;
    p = next;
  }
  if (p != end) return std::nullopt;
  return Ipv4Address{value};
}

std::string Ipv4Address::ToString() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", value >> 24, (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff);
  return buf;
}

std::optional<Ipv4Cidr> Ipv4Cidr::Parse(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto addr = Ipv4Address::Parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  const auto len_text = text.substr(slash + 1);
  int len = -1;
  auto [next, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (ec != std::errc() || next != len_text.data() + len_text.size() || len < 0 || len > 32) return std::nullopt;
  Ipv4Cidr cidr{*addr, len};
  if ((addr->value & cidr.Mask()) != addr->value) return std::nullopt;
  return cidr;
}

std::string Ipv4Cidr::ToString() const { return network.ToString() + "/" + std::to_string(prefix_length); }

std::optional<Ipv4Range> Ipv4Range::Parse(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto trim = [](std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
  };
  auto first = Ipv4Address::Parse(trim(text.substr(0, dash)));
  auto last = Ipv4Address::Parse(trim(text.substr(dash + 1)));
  if (!first || !last || *last < *first) return std::nullopt;
  return Ipv4Range{*first, *last};
}

std::string Ipv4Range::ToString() const { return first.ToString() + "-" + last.ToString(); }

std::optional<Ipv6Address> Ipv6Address::Parse(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;  // INET6_ADDRSTRLEN - 1
  char buf[46];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  Ipv6Address a;
  if (inet_pton(AF_INET6, buf, a.bytes.data()) != 1) return std::nullopt;
  return a;
}

std::string Ipv6Address::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf) == nullptr) return "::";
  return buf;
}

bool Ipv6Address::IsUnspecified() const {
  for (auto b : bytes)
    if (b != 0) return false;
  return true;
}

namespace {
// Whether the first `bits` bits of a and b agree.
bool Ipv6PrefixEqual(const Ipv6Address& a, const Ipv6Address& b, int bits) {
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    const std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((a.bytes[i] & mask) != (b.bytes[i] & mask)) return false;
  }
  return true;
}
std::uint64_t Ipv6Low64(const Ipv6Address& a) {
  std::uint64_t v = 0;
  for (int i = 8; i < 16; ++i) v = (v << 8) | a.bytes[i];
  return v;
}
}  // namespace

std::optional<Ipv6Cidr> Ipv6Cidr::Parse(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto addr = Ipv6Address::Parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  const auto len_text = text.substr(slash + 1);
  int len = -1;
  auto [next, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (ec != std::errc() || next != len_text.data() + len_text.size() || len < 0 || len > 128) return std::nullopt;
  // Host bits must be zero: the address equals itself masked to the prefix.
  Ipv6Address masked = *addr;
  for (int i = 0; i < 16; ++i) {
    const int bits = len - i * 8;
    const std::uint8_t mask = bits >= 8 ? 0xff : bits <= 0 ? 0 : static_cast<std::uint8_t>(0xff << (8 - bits));
    masked.bytes[i] &= mask;
  }
  if (masked != *addr) return std::nullopt;
  return Ipv6Cidr{*addr, len};
}

bool Ipv6Cidr::Contains(const Ipv6Address& a) const { return Ipv6PrefixEqual(a, network, prefix_length); }

std::string Ipv6Cidr::ToString() const { return network.ToString() + "/" + std::to_string(prefix_length); }

std::optional<Ipv6Range> Ipv6Range::Parse(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto trim6 = [](std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
  };
  auto first = Ipv6Address::Parse(trim6(text.substr(0, dash)));
  auto last = Ipv6Address::Parse(trim6(text.substr(dash + 1)));
  if (!first || !last || *last < *first) return std::nullopt;
  return Ipv6Range{*first, *last};
}

std::uint64_t Ipv6Range::Size() const {
  constexpr std::uint64_t kCap = std::uint64_t{1} << 32;
  if (!Ipv6PrefixEqual(first, last, 64)) return kCap;
  const std::uint64_t diff = Ipv6Low64(last) - Ipv6Low64(first);
  return diff >= kCap - 1 ? kCap : diff + 1;
}

Ipv6Address Ipv6Range::At(std::uint64_t n) const {
  Ipv6Address a = first;
  // Add n to the 128-bit big-endian value, carrying upwards.
  std::uint64_t carry = n;
  for (int i = 15; i >= 0 && carry != 0; --i) {
    const std::uint64_t sum = a.bytes[i] + (carry & 0xff);
    a.bytes[i] = static_cast<std::uint8_t>(sum);
    carry = (carry >> 8) + (sum >> 8);
  }
  return a;
}

std::string Ipv6Range::ToString() const { return first.ToString() + "-" + last.ToString(); }

std::string UrlHost(const Ipv6Address& a) { return "[" + a.ToString() + "]"; }

IpAddress::IpAddress(Ipv4Address a) {
  mapped.bytes[10] = mapped.bytes[11] = 0xff;
  for (int i = 0; i < 4; ++i) mapped.bytes[std::size_t(12 + i)] = static_cast<std::uint8_t>(a.value >> (24 - 8 * i));
}

std::optional<Ipv4Address> IpAddress::v4() const {
  for (std::size_t i = 0; i < 10; ++i)
    if (mapped.bytes[i] != 0) return std::nullopt;
  if (mapped.bytes[10] != 0xff || mapped.bytes[11] != 0xff) return std::nullopt;
  std::uint32_t v = 0;
  for (std::size_t i = 12; i < 16; ++i) v = (v << 8) | mapped.bytes[i];
  return Ipv4Address{v};
}

std::optional<Ipv6Address> IpAddress::v6() const {
  if (v4()) return std::nullopt;
  return mapped;
}

std::string IpAddress::ToString() const {
  if (auto a = v4()) return a->ToString();
  return mapped.ToString();
}

}  // namespace metalpxe
