#include "dhcp/message.h"

#include <algorithm>
#include <cstring>

#include "core/hex.h"

namespace metalpxe::dhcp {
namespace {

constexpr std::uint8_t kMagic[4] = {99, 130, 83, 99};
constexpr std::size_t kSnameOffset = 44;
constexpr std::size_t kSnameSize = 64;
constexpr std::size_t kFileOffset = 108;
constexpr std::size_t kFileSize = 128;

std::uint16_t Be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t Be32(const std::uint8_t* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}
void PutBe16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void PutBe32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

// Text fields are NUL-terminated within their fixed size (or fill it).
std::string FixedText(const std::uint8_t* p, std::size_t size) {
  std::size_t n = 0;
  while (n < size && p[n] != 0) ++n;
  return std::string(reinterpret_cast<const char*>(p), n);
}

Status Malformed(std::string what) { return Status(ErrorCode::kInvalidArgument, std::move(what)); }

// Reads the options in one area, appending (RFC 3396: concatenating) into
// `out`. `overload` receives option 52 when `allow_overload`; inside file and
// sname option 52 is ignored, so an overload can never loop.
Status ReadOptionArea(const std::uint8_t* p, std::size_t size, std::vector<DhcpOption>& out,
                      std::optional<std::uint8_t>* overload) {
  std::size_t i = 0;
  while (i < size) {
    const std::uint8_t code = p[i];
    if (code == opt::kPad) {
      ++i;
      continue;
    }
    if (code == opt::kEnd) return Status::Ok();
    if (i + 1 >= size) return Malformed("option " + std::to_string(code) + " truncated before its length");
    const std::size_t len = p[i + 1];
    if (i + 2 + len > size) return Malformed("option " + std::to_string(code) + " runs past the end of its area");
    const std::uint8_t* value = p + i + 2;
    i += 2 + len;
    if (code == opt::kOverload) {
      if (overload == nullptr) continue;  // only honoured in the main options area
      if (len != 1 || value[0] < 1 || value[0] > 3) return Malformed("bad option overload value");
      *overload = value[0];
      continue;
    }
    auto it = std::find_if(out.begin(), out.end(), [&](const DhcpOption& o) { return o.code == code; });
    if (it == out.end()) {
      out.push_back(DhcpOption{code, {}});
      it = std::prev(out.end());
    }
    if (it->data.size() + len > 4096) return Malformed("option " + std::to_string(code) + " absurdly long");
    it->data.insert(it->data.end(), value, value + len);
  }
  return Status::Ok();  // a missing end option is tolerated (many clients omit it)
}

}  // namespace

std::string_view MessageTypeName(MessageType t) {
  switch (t) {
    case MessageType::kDiscover: return "DHCPDISCOVER";
    case MessageType::kOffer: return "DHCPOFFER";
    case MessageType::kRequest: return "DHCPREQUEST";
    case MessageType::kDecline: return "DHCPDECLINE";
    case MessageType::kAck: return "DHCPACK";
    case MessageType::kNak: return "DHCPNAK";
    case MessageType::kRelease: return "DHCPRELEASE";
    case MessageType::kInform: return "DHCPINFORM";
  }
  return "DHCP?";
}

const DhcpOption* DhcpMessage::Find(std::uint8_t code) const {
  for (const auto& o : options)
    if (o.code == code) return &o;
  return nullptr;
}

std::optional<MessageType> DhcpMessage::Type() const {
  auto v = GetU8(opt::kMessageType);
  if (!v || *v < 1 || *v > 8) return std::nullopt;
  return static_cast<MessageType>(*v);
}

std::optional<std::uint8_t> DhcpMessage::GetU8(std::uint8_t code) const {
  const auto* o = Find(code);
  if (o == nullptr || o->data.size() < 1) return std::nullopt;
  return o->data[0];
}
std::optional<std::uint16_t> DhcpMessage::GetU16(std::uint8_t code) const {
  const auto* o = Find(code);
  if (o == nullptr || o->data.size() < 2) return std::nullopt;
  return Be16(o->data.data());
}
std::optional<std::uint32_t> DhcpMessage::GetU32(std::uint8_t code) const {
  const auto* o = Find(code);
  if (o == nullptr || o->data.size() < 4) return std::nullopt;
  return Be32(o->data.data());
}
std::optional<Ipv4Address> DhcpMessage::GetIpv4(std::uint8_t code) const {
  auto v = GetU32(code);
  if (!v) return std::nullopt;
  return Ipv4Address{*v};
}
std::optional<std::string_view> DhcpMessage::GetString(std::uint8_t code) const {
  const auto* o = Find(code);
  if (o == nullptr) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(o->data.data()), o->data.size());
}
std::vector<std::uint16_t> DhcpMessage::GetU16Array(std::uint8_t code) const {
  std::vector<std::uint16_t> out;
  const auto* o = Find(code);
  if (o == nullptr) return out;
  for (std::size_t i = 0; i + 1 < o->data.size(); i += 2) out.push_back(Be16(o->data.data() + i));
  return out;
}

void DhcpMessage::Set(std::uint8_t code, std::vector<std::uint8_t> data) {
  for (auto& o : options)
    if (o.code == code) {
      o.data = std::move(data);
      return;
    }
  options.push_back(DhcpOption{code, std::move(data)});
}
void DhcpMessage::SetU16(std::uint8_t code, std::uint16_t v) {
  std::vector<std::uint8_t> d(2);
  PutBe16(d.data(), v);
  Set(code, std::move(d));
}
void DhcpMessage::SetU32(std::uint8_t code, std::uint32_t v) {
  std::vector<std::uint8_t> d(4);
  PutBe32(d.data(), v);
  Set(code, std::move(d));
}
void DhcpMessage::SetIpv4(std::uint8_t code, Ipv4Address a) { SetU32(code, a.value); }
void DhcpMessage::SetIpv4List(std::uint8_t code, const std::vector<Ipv4Address>& list) {
  std::vector<std::uint8_t> d(list.size() * 4);
  for (std::size_t i = 0; i < list.size(); ++i) PutBe32(d.data() + 4 * i, list[i].value);
  Set(code, std::move(d));
}
void DhcpMessage::SetString(std::uint8_t code, std::string_view s) {
  Set(code, std::vector<std::uint8_t>(s.begin(), s.end()));
}
void DhcpMessage::Remove(std::uint8_t code) {
  options.erase(std::remove_if(options.begin(), options.end(), [&](const DhcpOption& o) { return o.code == code; }),
                options.end());
}

MacAddress DhcpMessage::Mac() const {
  MacAddress m;
  std::copy_n(chaddr.begin(), 6, m.bytes.begin());
  return m;
}
void DhcpMessage::SetMac(const MacAddress& mac) {
  chaddr.fill(0);
  std::copy(mac.bytes.begin(), mac.bytes.end(), chaddr.begin());
  htype = 1;
  hlen = 6;
}

Result<DhcpMessage> ParseDhcpMessage(std::span<const std::byte> bytes) {
  if (bytes.size() < kMinMessageSize) return Malformed("shorter than a DHCP header");
  if (bytes.size() > kMaxParseSize) return Malformed("absurdly large DHCP message");
  const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
  const std::size_t size = bytes.size();
  DhcpMessage m;
  m.op = p[0];
  if (m.op != 1 && m.op != 2) return Malformed("bad op");
  m.htype = p[1];
  m.hlen = p[2];
  if (m.hlen > 16) return Malformed("hardware address longer than chaddr");
  m.hops = p[3];
  m.xid = Be32(p + 4);
  m.secs = Be16(p + 8);
  m.flags = Be16(p + 10);
  m.ciaddr = Ipv4Address{Be32(p + 12)};
  m.yiaddr = Ipv4Address{Be32(p + 16)};
  m.siaddr = Ipv4Address{Be32(p + 20)};
  m.giaddr = Ipv4Address{Be32(p + 24)};
  std::memcpy(m.chaddr.data(), p + 28, 16);
  if (std::memcmp(p + kFixedHeaderSize, kMagic, 4) != 0) return Malformed("no DHCP magic cookie");

  std::optional<std::uint8_t> overload;
  if (auto s = ReadOptionArea(p + kMinMessageSize, size - kMinMessageSize, m.options, &overload); !s.ok()) return s;
  // RFC 2131 4.1: options field, then file, then sname.
  bool file_has_options = overload && (*overload & 1);
  bool sname_has_options = overload && (*overload & 2);
  if (file_has_options) {
    if (auto s = ReadOptionArea(p + kFileOffset, kFileSize, m.options, nullptr); !s.ok()) return s;
  } else {
    m.file = FixedText(p + kFileOffset, kFileSize);
  }
  if (sname_has_options) {
    if (auto s = ReadOptionArea(p + kSnameOffset, kSnameSize, m.options, nullptr); !s.ok()) return s;
  } else {
    m.sname = FixedText(p + kSnameOffset, kSnameSize);
  }
  for (const auto& o : m.options) {
    const OptionDef* def = FindOptionDef(o.code);
    if (def != nullptr && !OptionLengthValid(*def, o.data.size()))
      return Malformed("option " + std::to_string(o.code) + " (" + std::string(def->name) + ") has a bad length " +
                       std::to_string(o.data.size()));
  }
  return m;
}

Result<std::vector<std::byte>> SerializeDhcpMessage(const DhcpMessage& msg, std::size_t max_size) {
  if (msg.sname.size() >= kSnameSize || msg.file.size() >= kFileSize)
    return Status(ErrorCode::kInvalidArgument, "sname/file too long");
  max_size = std::max<std::size_t>(max_size, 300);
  // Each option becomes one or more chunks of at most 255 value bytes (RFC 3396).
  struct Chunk {
    std::uint8_t code;
    const std::uint8_t* data;
    std::size_t len;
  };
  std::vector<Chunk> chunks;
  for (const auto& o : msg.options) {
    if (o.code == opt::kPad || o.code == opt::kEnd || o.code == opt::kOverload) continue;
    std::size_t off = 0;
    do {
      const std::size_t n = std::min<std::size_t>(255, o.data.size() - off);
      chunks.push_back(Chunk{o.code, o.data.data() + off, n});
      off += n;
    } while (off < o.data.size());
  }
  // Areas in fill order: main options (grows up to max_size), file, sname.
  std::size_t total = 0;
  for (const auto& c : chunks) total += 2 + c.len;
  const std::size_t main_room_plain = max_size - kMinMessageSize - 1;  // 1 for end
  std::vector<std::uint8_t> main, file_area, sname_area;
  std::uint8_t overload = 0;
  if (total <= main_room_plain) {
    for (const auto& c : chunks) {
      main.push_back(c.code);
      main.push_back(static_cast<std::uint8_t>(c.len));
      main.insert(main.end(), c.data, c.data + c.len);
    }
  } else {
    const std::size_t main_room = main_room_plain - 3;  // option 52 itself
    struct Area {
      std::vector<std::uint8_t>* bytes;
      std::size_t room;
      std::uint8_t bit;
    };
    std::vector<Area> areas{{&main, main_room, 0}};
    if (msg.file.empty()) areas.push_back({&file_area, kFileSize - 1, 1});
    if (msg.sname.empty()) areas.push_back({&sname_area, kSnameSize - 1, 2});
    std::size_t a = 0;
    for (const auto& c : chunks) {
      while (a < areas.size() && areas[a].bytes->size() + 2 + c.len > areas[a].room) ++a;
      if (a == areas.size()) return Status(ErrorCode::kResourceExhausted, "options do not fit the message size");
      areas[a].bytes->push_back(c.code);
      areas[a].bytes->push_back(static_cast<std::uint8_t>(c.len));
      areas[a].bytes->insert(areas[a].bytes->end(), c.data, c.data + c.len);
      overload |= areas[a].bit;
    }
  }

  std::vector<std::byte> out(kMinMessageSize);
  auto* p = reinterpret_cast<std::uint8_t*>(out.data());
  p[0] = msg.op;
  p[1] = msg.htype;
  p[2] = msg.hlen;
  p[3] = msg.hops;
  PutBe32(p + 4, msg.xid);
  PutBe16(p + 8, msg.secs);
  PutBe16(p + 10, msg.flags);
  PutBe32(p + 12, msg.ciaddr.value);
  PutBe32(p + 16, msg.yiaddr.value);
  PutBe32(p + 20, msg.siaddr.value);
  PutBe32(p + 24, msg.giaddr.value);
  std::memcpy(p + 28, msg.chaddr.data(), 16);
  if (overload & 2) {
    std::memcpy(p + kSnameOffset, sname_area.data(), sname_area.size());
    p[kSnameOffset + sname_area.size()] = opt::kEnd;
  } else {
    std::memcpy(p + kSnameOffset, msg.sname.data(), msg.sname.size());
  }
  if (overload & 1) {
    std::memcpy(p + kFileOffset, file_area.data(), file_area.size());
    p[kFileOffset + file_area.size()] = opt::kEnd;
  } else {
    std::memcpy(p + kFileOffset, msg.file.data(), msg.file.size());
  }
  std::memcpy(p + kFixedHeaderSize, kMagic, 4);
  std::vector<std::uint8_t> tail;
  tail.reserve(main.size() + 4);
  if (overload != 0) tail.insert(tail.end(), {opt::kOverload, 1, overload});
  tail.insert(tail.end(), main.begin(), main.end());
  tail.push_back(opt::kEnd);
  // Pad to the BOOTP minimum of 300 bytes: some old relays and clients want it.
  while (kMinMessageSize + tail.size() < 300) tail.push_back(opt::kPad);
  const auto* t = reinterpret_cast<const std::byte*>(tail.data());
  out.insert(out.end(), t, t + tail.size());
  return out;
}

std::string HexString(std::span<const std::uint8_t> data) { return HexLower(data); }

bool RewriteXid(std::span<std::byte> encoded, std::uint32_t xid) {
  if (encoded.size() < 8) return false;
  for (int i = 0; i < 4; ++i) encoded[4 + i] = static_cast<std::byte>(xid >> (24 - 8 * i));
  return true;
}

}  // namespace metalpxe::dhcp
