#pragma once
// A DHCPv6 message (RFC 8415 §8 client/server format) and its codec: pure
// functions over bytes, no I/O. The options metalpxe reads are checked on
// parse (lengths, nested IA_NA/IAADDR, length-prefixed lists of user/vendor
// class and RFC 5970 boot parameters), so typed reads never re-check bytes.
// Relay messages (12, 13) are refused: metalpxe answers on-link clients only.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/net_types.h"
#include "core/result.h"

namespace metalpxe::dhcp6 {

inline constexpr std::uint16_t kServerPort = 547;
inline constexpr std::uint16_t kClientPort = 546;
inline constexpr std::string_view kAllServersAndRelays = "ff02::1:2";

enum class MsgType : std::uint8_t {
  kSolicit = 1,
  kAdvertise = 2,
  kRequest = 3,
  kConfirm = 4,
  kRenew = 5,
  kRebind = 6,
  kReply = 7,
  kRelease = 8,
  kDecline = 9,
  kReconfigure = 10,
  kInformationRequest = 11,
};
std::string_view MsgTypeName(MsgType t);  // "SOLICIT", "ADVERTISE", ...

namespace opt6 {
inline constexpr std::uint16_t kClientId = 1;
inline constexpr std::uint16_t kServerId = 2;
inline constexpr std::uint16_t kIaNa = 3;
inline constexpr std::uint16_t kIaTa = 4;
inline constexpr std::uint16_t kIaAddr = 5;
inline constexpr std::uint16_t kOro = 6;
inline constexpr std::uint16_t kPreference = 7;
inline constexpr std::uint16_t kElapsedTime = 8;
inline constexpr std::uint16_t kStatusCode = 13;
inline constexpr std::uint16_t kRapidCommit = 14;
inline constexpr std::uint16_t kUserClass = 15;
inline constexpr std::uint16_t kVendorClass = 16;
inline constexpr std::uint16_t kVendorOpts = 17;
inline constexpr std::uint16_t kDnsServers = 23;
inline constexpr std::uint16_t kIaPd = 25;
inline constexpr std::uint16_t kBootfileUrl = 59;     // RFC 5970
inline constexpr std::uint16_t kBootfileParam = 60;   // RFC 5970
inline constexpr std::uint16_t kClientArchType = 61;  // RFC 5970
inline constexpr std::uint16_t kNii = 62;             // RFC 5970
}  // namespace opt6

enum class StatusCode : std::uint16_t {
  kSuccess = 0,
  kUnspecFail = 1,
  kNoAddrsAvail = 2,
  kNoBinding = 3,
  kNotOnLink = 4,
  kUseMulticast = 5,
};

// IANA enterprise number the PXE and UEFI HTTP-boot vendor classes use (Intel).
inline constexpr std::uint32_t kEnterpriseIntel = 343;

inline constexpr std::size_t kMaxMessageSize = 65535 - 48;  // a UDP payload over IPv6
inline constexpr std::size_t kMaxDuidSize = 130;            // type + 128 (RFC 8415 §11.1)
inline constexpr std::size_t kMaxOptions = 256;             // per level; more is not a real client

struct Option6 {
  std::uint16_t code = 0;
  std::vector<std::uint8_t> data;
  bool operator==(const Option6&) const = default;
};

struct IaAddress {
  Ipv6Address address;
  std::uint32_t preferred = 0;
  std::uint32_t valid = 0;
  std::vector<Option6> options;  // e.g. a status code
};

struct IaNa {
  std::uint32_t iaid = 0;
  std::uint32_t t1 = 0;
  std::uint32_t t2 = 0;
  std::vector<IaAddress> addresses;
  std::optional<StatusCode> status;  // from a status-code option, if present
  std::string status_message;
};

struct VendorClass {
  std::uint32_t enterprise = 0;
  std::vector<std::string> data;  // each vendor-class-data item
};

struct Message6 {
  MsgType type = MsgType::kSolicit;
  std::uint32_t xid = 0;  // 24 bits
  std::vector<Option6> options;  // in wire order (repeats kept: one IA_NA per IAID)

  const Option6* Find(std::uint16_t code) const;
  std::vector<const Option6*> FindAll(std::uint16_t code) const;
  bool Has(std::uint16_t code) const { return Find(code) != nullptr; }
  void Add(std::uint16_t code, std::vector<std::uint8_t> data) { options.push_back({code, std::move(data)}); }

  // Typed reads (values were checked by the parser); nullopt / empty when absent.
  std::vector<std::uint8_t> ClientId() const;
  std::vector<std::uint8_t> ServerId() const;
  std::vector<std::uint16_t> RequestedOptions() const;  // ORO
  std::vector<IaNa> IaNas() const;
  std::optional<VendorClass> GetVendorClass() const;     // the first one
  std::vector<std::string> UserClasses() const;          // every item of option 15
  std::vector<std::uint16_t> ClientArchTypes() const;    // option 61
  std::optional<std::string> BootfileUrl() const;        // option 59
  std::vector<std::string> BootfileParams() const;       // option 60
  std::optional<StatusCode> Status() const;              // top-level option 13
};

// Parses one message. kInvalidArgument for truncation, bad lengths, relay
// messages, unknown message types, absurd sizes or option counts. Never reads
// outside `bytes`.
Result<Message6> ParseMessage6(std::span<const std::byte> bytes);

// Serialises `msg`; errors when an option is longer than 65535 bytes or the
// message exceeds kMaxMessageSize.
Result<std::vector<std::byte>> SerializeMessage6(const Message6& msg);

// Option builders.
std::vector<std::uint8_t> EncodeIaNa(const IaNa& ia);
std::vector<std::uint8_t> EncodeStatus(StatusCode code, std::string_view message);
std::vector<std::uint8_t> EncodeVendorClass(const VendorClass& vc);
std::vector<std::uint8_t> EncodeStringList(const std::vector<std::string>& items);  // options 15, 60
std::vector<std::uint8_t> EncodeAddressList(const std::vector<Ipv6Address>& list);  // option 23
std::vector<std::uint8_t> EncodeU16List(const std::vector<std::uint16_t>& list);    // options 6, 61

// DUIDs (RFC 8415 §11) and where a client's MAC can be read from.
enum class DuidType : std::uint16_t { kLlt = 1, kEn = 2, kLl = 3, kUuid = 4 };
// The Ethernet address in a DUID-LLT or DUID-LL (hardware type 1); nullopt
// for other DUIDs (DUID-UUID: OVMF with an SMBIOS UUID).
std::optional<MacAddress> MacFromDuid(std::span<const std::uint8_t> duid);
// The MAC in a modified EUI-64 link-local address (fe80::xxxx:xxff:fexx:xxxx,
// RFC 4291 App. A); nullopt for privacy or stable-privacy addresses.
std::optional<MacAddress> MacFromLinkLocal(const Ipv6Address& source);
// DUID-LL of an Ethernet address: the server's own identifier.
std::vector<std::uint8_t> DuidLl(const MacAddress& mac);
// The 16 bytes of a DUID-UUID as 8-4-4-4-12 text; "" for other DUIDs.
std::string UuidFromDuid(std::span<const std::uint8_t> duid);

}  // namespace metalpxe::dhcp6
