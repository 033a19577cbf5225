#pragma once
// The DHCPv4 options metalpxe reads or writes, described by a table (Kea
// style): code, name, value type and array-ness. Parsing checks every listed
// option's length against its type, so code above the codec can read values
// without re-checking; adding an option is one line in option_defs.cpp.
#include <cstdint>
#include <string_view>

namespace metalpxe::dhcp {

enum class OptionType : std::uint8_t {
  kBytes,   // opaque; at least min_length bytes
  kString,  // text; at least min_length bytes
  kU8,
  kU16,
  kU32,
  kIpv4,
};

struct OptionDef {
  std::uint8_t code;
  std::string_view name;
  OptionType type;
  bool array;               // a list of `type` values (at least one)
  std::uint8_t min_length;  // kBytes/kString only
};

// Well-known codes, named where the code uses them.
namespace opt {
inline constexpr std::uint8_t kPad = 0;
inline constexpr std::uint8_t kSubnetMask = 1;
inline constexpr std::uint8_t kRouter = 3;
inline constexpr std::uint8_t kDns = 6;
inline constexpr std::uint8_t kHostname = 12;
inline constexpr std::uint8_t kDomainName = 15;
inline constexpr std::uint8_t kBroadcast = 28;
inline constexpr std::uint8_t kVendorSpecific = 43;
inline constexpr std::uint8_t kRequestedIp = 50;
inline constexpr std::uint8_t kLeaseTime = 51;
inline constexpr std::uint8_t kOverload = 52;
inline constexpr std::uint8_t kMessageType = 53;
inline constexpr std::uint8_t kServerId = 54;
inline constexpr std::uint8_t kParameterRequestList = 55;
inline constexpr std::uint8_t kMessage = 56;
inline constexpr std::uint8_t kMaxMessageSize = 57;
inline constexpr std::uint8_t kRenewalTime = 58;
inline constexpr std::uint8_t kRebindingTime = 59;
inline constexpr std::uint8_t kVendorClass = 60;
inline constexpr std::uint8_t kClientId = 61;
inline constexpr std::uint8_t kTftpServerName = 66;
inline constexpr std::uint8_t kBootfileName = 67;
inline constexpr std::uint8_t kUserClass = 77;
inline constexpr std::uint8_t kRelayAgentInfo = 82;
inline constexpr std::uint8_t kClientArch = 93;
inline constexpr std::uint8_t kClientNdi = 94;
inline constexpr std::uint8_t kClientMachineId = 97;
inline constexpr std::uint8_t kIpxeEncap = 175;
inline constexpr std::uint8_t kEnd = 255;
}  // namespace opt

// nullptr for codes the table does not describe (kept as opaque bytes).
const OptionDef* FindOptionDef(std::uint8_t code);

// True when `length` bytes are a valid value for `def`.
bool OptionLengthValid(const OptionDef& def, std::size_t length);

}  // namespace metalpxe::dhcp
