#include "pxe/tftp/tftp_packet.h"

#include <algorithm>
#include <cctype>

namespace metalpxe::tftp {
namespace {

// Reads big-endian fields and NUL-terminated strings from a span, never past its end.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> bytes) : bytes_(bytes) {}

  bool ReadU16(std::uint16_t& out) {
    if (bytes_.size() - pos_ < 2) return false;
    out = static_cast<std::uint16_t>((std::to_integer<unsigned>(bytes_[pos_]) << 8) |
                                     std::to_integer<unsigned>(bytes_[pos_ + 1]));
    pos_ += 2;
    return true;
  }

  // A NUL-terminated string; false when no NUL is left in the buffer.
  bool ReadString(std::string& out) {
    const auto rest = bytes_.subspan(pos_);
    const auto nul = std::find(rest.begin(), rest.end(), std::byte{0});
    if (nul == rest.end()) return false;
    const auto len = static_cast<std::size_t>(nul - rest.begin());
    out.assign(reinterpret_cast<const char*>(rest.data()), len);
    pos_ += len + 1;
    return true;
  }

  std::span<const std::byte> Rest() const { return bytes_.subspan(pos_); }
  bool AtEnd() const { return pos_ == bytes_.size(); }

 private:
  std::span<const std::byte> bytes_;
  std::size_t pos_ = 0;
};

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

void PutU16(std::vector<std::byte>& out, std::uint16_t v) {
  out.push_back(static_cast<std::byte>(v >> 8));
  out.push_back(static_cast<std::byte>(v & 0xff));
}

void PutString(std::vector<std::byte>& out, std::string_view s) {
  s = s.substr(0, s.find('\0'));
  for (char c : s) out.push_back(static_cast<std::byte>(c));
  out.push_back(std::byte{0});
}

// Option pairs after the mode (RRQ/WRQ) or after the opcode (OACK). A
// trailing name without a terminated value is ignored, as tftpd-hpa does:
// some firmware pads requests, and dropping a half option is harmless.
std::vector<TftpOption> ReadOptions(Reader& r) {
  std::vector<TftpOption> options;
  while (!r.AtEnd()) {
    TftpOption opt;
    if (!r.ReadString(opt.name) || !r.ReadString(opt.value)) break;
    if (opt.name.empty()) continue;  // padding NULs
    opt.name = Lower(std::move(opt.name));
    options.push_back(std::move(opt));
  }
  return options;
}

}  // namespace

Result<Packet> ParsePacket(std::span<const std::byte> bytes) {
  Reader r(bytes);
  std::uint16_t op = 0;
  if (!r.ReadU16(op)) return Status(ErrorCode::kInvalidArgument, "TFTP packet shorter than its opcode");
  switch (static_cast<Opcode>(op)) {
    case Opcode::kRrq:
    case Opcode::kWrq: {
      RequestPacket req;
      req.opcode = static_cast<Opcode>(op);
      if (!r.ReadString(req.filename)) return Status(ErrorCode::kInvalidArgument, "TFTP request: unterminated filename");
      if (!r.ReadString(req.mode)) return Status(ErrorCode::kInvalidArgument, "TFTP request: unterminated mode");
      req.mode = Lower(std::move(req.mode));
      req.options = ReadOptions(r);
      return Packet(std::move(req));
    }
    case Opcode::kData: {
      DataPacket data;
      if (!r.ReadU16(data.block)) return Status(ErrorCode::kInvalidArgument, "TFTP DATA: no block number");
      data.payload = r.Rest();
      if (data.payload.size() > kMaxBlockSize)
        return Status(ErrorCode::kInvalidArgument, "TFTP DATA: payload larger than the largest block size");
      return Packet(data);
    }
    case Opcode::kAck: {
      AckPacket ack;
      if (!r.ReadU16(ack.block)) return Status(ErrorCode::kInvalidArgument, "TFTP ACK: no block number");
      // Trailing bytes are tolerated: some clients pad short packets.
      return Packet(ack);
    }
    case Opcode::kError: {
      ErrorPacket err;
      if (!r.ReadU16(err.code)) return Status(ErrorCode::kInvalidArgument, "TFTP ERROR: no error code");
      // A missing terminator is common in the wild; take what is there.
      if (!r.ReadString(err.message)) {
        const auto rest = r.Rest();
        err.message.assign(reinterpret_cast<const char*>(rest.data()), rest.size());
      }
      return Packet(std::move(err));
    }
    case Opcode::kOack: {
      OackPacket oack;
      oack.options = ReadOptions(r);
      return Packet(std::move(oack));
    }
  }
  return Status(ErrorCode::kInvalidArgument, "unknown TFTP opcode " + std::to_string(op));
}

std::vector<std::byte> EncodeRequest(const RequestPacket& request) {
  std::vector<std::byte> out;
  PutU16(out, static_cast<std::uint16_t>(request.opcode));
  PutString(out, request.filename);
  PutString(out, request.mode);
  for (const auto& opt : request.options) {
    PutString(out, opt.name);
    PutString(out, opt.value);
  }
  return out;
}

std::vector<std::byte> EncodeData(std::uint16_t block, std::span<const std::byte> payload) {
  std::vector<std::byte> out(kHeaderSize + payload.size());
  WriteDataHeader(block, std::span<std::byte, kHeaderSize>(out.data(), kHeaderSize));
  std::copy(payload.begin(), payload.end(), out.begin() + kHeaderSize);
  return out;
}

std::vector<std::byte> EncodeAck(std::uint16_t block) {
  std::vector<std::byte> out;
  PutU16(out, static_cast<std::uint16_t>(Opcode::kAck));
  PutU16(out, block);
  return out;
}

std::vector<std::byte> EncodeError(TftpError code, std::string_view message) {
  std::vector<std::byte> out;
  PutU16(out, static_cast<std::uint16_t>(Opcode::kError));
  PutU16(out, static_cast<std::uint16_t>(code));
  PutString(out, message);
  return out;
}

std::vector<std::byte> EncodeOack(const std::vector<TftpOption>& options) {
  std::vector<std::byte> out;
  PutU16(out, static_cast<std::uint16_t>(Opcode::kOack));
  for (const auto& opt : options) {
    PutString(out, opt.name);
    PutString(out, opt.value);
  }
  return out;
}

void WriteDataHeader(std::uint16_t block, std::span<std::byte, kHeaderSize> out) {
  out[0] = std::byte{0};
  out[1] = static_cast<std::byte>(Opcode::kData);
  out[2] = static_cast<std::byte>(block >> 8);
  out[3] = static_cast<std::byte>(block & 0xff);
}

}  // namespace metalpxe::tftp
