#pragma once
// Value types for the addresses every module speaks of: MAC addresses (one
// canonical text form, lower-case colon-separated), IPv4 addresses, CIDR
// subnets and inclusive address ranges. Parsing is strict and allocation-free.
#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace metalpxe {

struct MacAddress {
  std::array<std::uint8_t, 6> bytes{};

  // Accepts aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, either case.
  static std::optional<MacAddress> Parse(std::string_view text);
  std::string ToString() const;        // aa:bb:cc:dd:ee:ff
  std::string ToHyphenString() const;  // aa-bb-cc-dd-ee-ff (iPXE ${mac:hexhyp})
  auto operator<=>(const MacAddress&) const = default;
};

struct Ipv4Address {
  std::uint32_t value = 0;  // host byte order

  static std::optional<Ipv4Address> Parse(std::string_view text);
  static constexpr Ipv4Address FromOctets(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return Ipv4Address{(std::uint32_t(a) << 24) | (std::uint32_t(b) << 16) | (std::uint32_t(c) << 8) | d};
  }
  std::string ToString() const;
  bool IsUnspecified() const { return value == 0; }
  auto operator<=>(const Ipv4Address&) const = default;
};

struct Ipv4Cidr {
  Ipv4Address network;
  int prefix_length = 0;

  // "10.66.0.0/24"; host bits must be zero.
  static std::optional<Ipv4Cidr> Parse(std::string_view text);
  std::uint32_t Mask() const { return prefix_length == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix_length); }
  Ipv4Address Netmask() const { return Ipv4Address{Mask()}; }
  Ipv4Address Broadcast() const { return Ipv4Address{network.value | ~Mask()}; }
  bool Contains(Ipv4Address a) const { return (a.value & Mask()) == network.value; }
  std::string ToString() const;
  auto operator<=>(const Ipv4Cidr&) const = default;
};

struct Ipv4Range {
  Ipv4Address first;
  Ipv4Address last;  // inclusive

  // "10.66.0.100-10.66.0.200"; first <= last.
  static std::optional<Ipv4Range> Parse(std::string_view text);
  bool Contains(Ipv4Address a) const { return a >= first && a <= last; }
  bool Overlaps(const Ipv4Range& o) const { return first <= o.last && o.first <= last; }
  std::uint64_t Size() const { return std::uint64_t(last.value) - first.value + 1; }
  std::string ToString() const;
};

// IPv6 (DHCPv6, IPv6-literal boot URLs). Text forms are RFC 5952's
// canonical ones (inet_ntop); parsing accepts any RFC 4291 form, no zone.
struct Ipv6Address {
  std::array<std::uint8_t, 16> bytes{};

  static std::optional<Ipv6Address> Parse(std::string_view text);
  std::string ToString() const;
  bool IsUnspecified() const;
  bool IsLinkLocal() const { return bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80; }  // fe80::/10
  bool IsMulticast() const { return bytes[0] == 0xff; }
  auto operator<=>(const Ipv6Address&) const = default;
};

struct Ipv6Cidr {
  Ipv6Address network;
  int prefix_length = 0;

  // "fd00:66::/64"; host bits must be zero.
  static std::optional<Ipv6Cidr> Parse(std::string_view text);
  bool Contains(const Ipv6Address& a) const;
  std::string ToString() const;
  auto operator<=>(const Ipv6Cidr&) const = default;
};

struct Ipv6Range {
  Ipv6Address first;
  Ipv6Address last;  // inclusive

  // "fd00:66::100-fd00:66::1ff"; first <= last.
  static std::optional<Ipv6Range> Parse(std::string_view text);
  bool Contains(const Ipv6Address& a) const { return a >= first && a <= last; }
  // Number of addresses, saturated at 2^32 (pools are walked, never that large).
  std::uint64_t Size() const;
  // first + n, for n < Size().
  Ipv6Address At(std::uint64_t n) const;
  std::string ToString() const;
};

// The host part of a URL: "10.66.0.1" or "[fd00:66::1]" (RFC 3986 IP-literal).
std::string UrlHost(const Ipv6Address& a);

// A peer of either family, for what is keyed by who is asking (connection
// limits, kernel-log senders). IPv4 is held IPv4-mapped (::ffff:a.b.c.d,
// RFC 4291 2.5.5.2), the form a dual-stack socket reports it in, so one
// 16-byte value serves both and a mapped IPv6 peer is the IPv4 one.
struct IpAddress {
  Ipv6Address mapped;

  IpAddress() = default;
  IpAddress(Ipv4Address a);           // NOLINT(google-explicit-constructor): every IPv4 peer is one
  IpAddress(const Ipv6Address& a) : mapped(a) {}  // NOLINT(google-explicit-constructor)
  // The IPv4 address when it is one (IPv4-mapped).
  std::optional<Ipv4Address> v4() const;
  // The IPv6 address when it is not IPv4.
  std::optional<Ipv6Address> v6() const;
  std::string ToString() const;  // "10.66.0.5" or "fd00:66::5"
  auto operator<=>(const IpAddress&) const = default;
};

}  // namespace metalpxe

template <>
struct std::hash<metalpxe::MacAddress> {
  std::size_t operator()(const metalpxe::MacAddress& m) const noexcept {
    std::uint64_t v = 0;
    for (auto b : m.bytes) v = (v << 8) | b;
    return std::hash<std::uint64_t>{}(v);
  }
};
template <>
struct std::hash<metalpxe::IpAddress> {
  std::size_t operator()(const metalpxe::IpAddress& a) const noexcept {
    std::uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 8; ++i) hi = (hi << 8) | a.mapped.bytes[std::size_t(i)];
    for (int i = 8; i < 16; ++i) lo = (lo << 8) | a.mapped.bytes[std::size_t(i)];
    return std::hash<std::uint64_t>{}(hi ^ (lo * 0x9e3779b97f4a7c15ull));
  }
};
template <>
struct std::hash<metalpxe::Ipv4Address> {
  std::size_t operator()(const metalpxe::Ipv4Address& a) const noexcept { return std::hash<std::uint32_t>{}(a.value); }
};
