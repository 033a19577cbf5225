#pragma once
// TFTP wire format (RFC 1350) with option extension packets (RFC 2347 OACK).
// Pure functions over bytes: no sockets, no files. Every parse bounds-checks
// and returns an error for malformed input; nothing here can read past the
// span it was given.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.h"

namespace metalpxe::tftp {

enum class Opcode : std::uint16_t { kRrq = 1, kWrq = 2, kData = 3, kAck = 4, kError = 5, kOack = 6 };

// RFC 1350 section 5 plus RFC 2347's code 8.
enum class TftpError : std::uint16_t {
  kNotDefined = 0,
  kFileNotFound = 1,
  kAccessViolation = 2,
  kDiskFull = 3,
  kIllegalOperation = 4,
  kUnknownTransferId = 5,
  kFileExists = 6,
  kNoSuchUser = 7,
  kOptionNegotiation = 8,
};

inline constexpr std::size_t kHeaderSize = 4;          // opcode + block number
inline constexpr std::uint16_t kDefaultBlockSize = 512;  // RFC 1350
inline constexpr std::uint16_t kMinBlockSize = 8;        // RFC 2348
inline constexpr std::uint16_t kMaxBlockSize = 65464;    // RFC 2348

// One option as it appears on the wire; names are lower-cased by the parser
// (RFC 2347: option names are case-insensitive), values are kept verbatim.
struct TftpOption {
  std::string name;
  std::string value;
  bool operator==(const TftpOption&) const = default;
};

// RRQ or WRQ.
struct RequestPacket {
  Opcode opcode = Opcode::kRrq;
  std::string filename;
  std::string mode;  // lower-cased: "octet", "netascii", "mail", ...
  std::vector<TftpOption> options;
};

struct DataPacket {
  std::uint16_t block = 0;
  std::span<const std::byte> payload;  // points into the parsed buffer
};

struct AckPacket {
  std::uint16_t block = 0;
};

struct ErrorPacket {
  std::uint16_t code = 0;
  std::string message;
};

struct OackPacket {
  std::vector<TftpOption> options;
};

using Packet = std::variant<RequestPacket, DataPacket, AckPacket, ErrorPacket, OackPacket>;

// Parses any TFTP packet. DataPacket::payload aliases `bytes`.
Result<Packet> ParsePacket(std::span<const std::byte> bytes);

// Encoders. They never fail: strings are written up to their first NUL.
std::vector<std::byte> EncodeRequest(const RequestPacket& request);
std::vector<std::byte> EncodeData(std::uint16_t block, std::span<const std::byte> payload);
std::vector<std::byte> EncodeAck(std::uint16_t block);
std::vector<std::byte> EncodeError(TftpError code, std::string_view message);
std::vector<std::byte> EncodeOack(const std::vector<TftpOption>& options);
// Writes the 4-byte DATA header in place, for senders that read file data
// straight into the packet buffer after it.
void WriteDataHeader(std::uint16_t block, std::span<std::byte, kHeaderSize> out);

}  // namespace metalpxe::tftp
