#pragma once
// A DHCPv4 message (RFC 2131 fixed header + RFC 2132 options) and its codec:
// pure functions over bytes, no I/O. Parsing merges split options (RFC 3396)
// and follows option overload (52) into `file`/`sname`; serialising splits
// long options and overloads into `file`/`sname` when the options do not fit
// the client's maximum message size (57).
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/net_types.h"
#include "core/result.h"
#include "dhcp/option_defs.h"

namespace metalpxe::dhcp {

enum class MessageType : std::uint8_t {
  kDiscover = 1,
  kOffer = 2,
  kRequest = 3,
  kDecline = 4,
  kAck = 5,
  kNak = 6,
  kRelease = 7,
  kInform = 8,
};
std::string_view MessageTypeName(MessageType t);

inline constexpr std::size_t kFixedHeaderSize = 236;  // up to the magic cookie
inline constexpr std::size_t kMinMessageSize = 240;   // header + cookie
inline constexpr std::size_t kMaxParseSize = 16384;   // larger is absurd for DHCP over UDP
inline constexpr std::size_t kDefaultMaxReplySize = 576 - 28;  // RFC 2131: 576-byte IP datagram
inline constexpr std::uint16_t kBroadcastFlag = 0x8000;

struct DhcpOption {
  std::uint8_t code = 0;
  std::vector<std::uint8_t> data;
};

struct DhcpMessage {
  std::uint8_t op = 1;  // 1 BOOTREQUEST, 2 BOOTREPLY
  std::uint8_t htype = 1;
  std::uint8_t hlen = 6;
  std::uint8_t hops = 0;
  std::uint32_t xid = 0;
  std::uint16_t secs = 0;
  std::uint16_t flags = 0;
  Ipv4Address ciaddr, yiaddr, siaddr, giaddr;
  std::array<std::uint8_t, 16> chaddr{};
  std::string sname;  // at most 63 bytes of text
  std::string file;   // at most 127 bytes of text
  std::vector<DhcpOption> options;  // in wire order, one entry per code

  const DhcpOption* Find(std::uint8_t code) const;
  bool Has(std::uint8_t code) const { return Find(code) != nullptr; }
  // Typed reads; nullopt when absent (lengths were checked by the parser).
  std::optional<MessageType> Type() const;
  std::optional<std::uint8_t> GetU8(std::uint8_t code) const;
  std::optional<std::uint16_t> GetU16(std::uint8_t code) const;
  std::optional<std::uint32_t> GetU32(std::uint8_t code) const;
  std::optional<Ipv4Address> GetIpv4(std::uint8_t code) const;
  std::optional<std::string_view> GetString(std::uint8_t code) const;
  std::vector<std::uint16_t> GetU16Array(std::uint8_t code) const;

  // Writes replace an existing option of the same code, in place.
  void Set(std::uint8_t code, std::vector<std::uint8_t> data);
  void SetU8(std::uint8_t code, std::uint8_t v) { Set(code, {v}); }
  void SetU16(std::uint8_t code, std::uint16_t v);
  void SetU32(std::uint8_t code, std::uint32_t v);
  void SetIpv4(std::uint8_t code, Ipv4Address a);
  void SetIpv4List(std::uint8_t code, const std::vector<Ipv4Address>& list);
  void SetString(std::uint8_t code, std::string_view s);
  void Remove(std::uint8_t code);

  MacAddress Mac() const;  // first 6 bytes of chaddr
  void SetMac(const MacAddress& mac);
  bool Broadcast() const { return (flags & kBroadcastFlag) != 0; }
};

// Parses one message. Errors (kInvalidArgument) for truncation, bad option
// lengths (also against the option table), a missing magic cookie, absurd
// sizes and bad hardware address lengths. Never reads outside `bytes`.
Result<DhcpMessage> ParseDhcpMessage(std::span<const std::byte> bytes);

// Serialises `msg` into at most `max_size` bytes (the DHCP payload; callers
// pass the client's option 57 minus the IP/UDP headers). Options overflow
// into `file` then `sname` (option 52) when those are empty; errors when
// even that is not enough.
Result<std::vector<std::byte>> SerializeDhcpMessage(const DhcpMessage& msg,
                                                    std::size_t max_size = kDefaultMaxReplySize);

// Lower-case hex of bytes, for client ids and logs.
std::string HexString(std::span<const std::uint8_t> data);

// Puts `xid` into an encoded message (BOOTP's transaction id, bytes 4-7):
// a reply held back for a while answers the client's newest transaction.
// False (nothing changed) when `encoded` is too short to be a message.
bool RewriteXid(std::span<std::byte> encoded, std::uint32_t xid);

}  // namespace metalpxe::dhcp
