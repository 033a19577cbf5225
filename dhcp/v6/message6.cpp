#include "dhcp/v6/message6.h"

#include <algorithm>
#include <cstring>

#include "core/hex.h"

namespace metalpxe::dhcp6 {
namespace {

std::uint16_t Get16v6(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t Get32v6(const std::uint8_t* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}
void Append16v6(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void Append32v6(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}
void AppendOption6(std::vector<std::uint8_t>& out, const Option6& o) {
  Append16v6(out, o.code);
  Append16v6(out, static_cast<std::uint16_t>(o.data.size()));
  out.insert(out.end(), o.data.begin(), o.data.end());
}

Status Malformed6(std::string what) { return Status(ErrorCode::kInvalidArgument, "dhcpv6: " + std::move(what)); }

// Splits an options area into TLVs (RFC 8415 §21.1).
Status SplitOptions6(const std::uint8_t* p, std::size_t size, std::vector<Option6>& out) {
  std::size_t i = 0;
  while (i < size) {
    if (out.size() >= kMaxOptions) return Malformed6("too many options");
    if (size - i < 4) return Malformed6("option header truncated");
    const std::uint16_t code = Get16v6(p + i);
    const std::size_t len = Get16v6(p + i + 2);
    if (size - i - 4 < len) return Malformed6("option " + std::to_string(code) + " runs past its area");
    out.push_back(Option6{code, std::vector<std::uint8_t>(p + i + 4, p + i + 4 + len)});
    i += 4 + len;
  }
  return Status::Ok();
}

// A list of (16-bit length, bytes) items filling `data` exactly.
bool SplitLengthPrefixed6(std::span<const std::uint8_t> data, std::vector<std::string>* items) {
  std::size_t i = 0;
  while (i < data.size()) {
    if (data.size() - i < 2) return false;
    const std::size_t len = Get16v6(data.data() + i);
    if (data.size() - i - 2 < len) return false;
    if (items) items->emplace_back(reinterpret_cast<const char*>(data.data() + i + 2), len);
    i += 2 + len;
  }
  return true;
}

Status CheckOptions6(const std::vector<Option6>& options, int depth);

Status CheckOption6(const Option6& o, int depth) {
  const std::size_t n = o.data.size();
  auto bad = [&](const char* what) { return Malformed6("option " + std::to_string(o.code) + ": " + what); };
  switch (o.code) {
    case opt6::kClientId:
    case opt6::kServerId:
      if (n < 3 || n > kMaxDuidSize) return bad("DUID length");
      return Status::Ok();
    case opt6::kIaNa: {
      if (n < 12) return bad("IA_NA shorter than 12 bytes");
      if (depth > 0) return bad("IA_NA nested");
      std::vector<Option6> inner;
      if (auto st = SplitOptions6(o.data.data() + 12, n - 12, inner); !st.ok()) return st;
      return CheckOptions6(inner, depth + 1);
    }
    case opt6::kIaAddr: {
      if (n < 24) return bad("IAADDR shorter than 24 bytes");
      if (depth > 2) return bad("IAADDR nested too deep");
      std::vector<Option6> inner;
      if (auto st = SplitOptions6(o.data.data() + 24, n - 24, inner); !st.ok()) return st;
      return CheckOptions6(inner, depth + 1);
    }
    case opt6::kOro:
    case opt6::kClientArchType:
      if (n % 2 != 0 || (o.code == opt6::kClientArchType && n == 0)) return bad("not a list of 16-bit codes");
      return Status::Ok();
    case opt6::kPreference:
      return n == 1 ? Status::Ok() : bad("length");
    case opt6::kElapsedTime:
      return n == 2 ? Status::Ok() : bad("length");
    case opt6::kStatusCode:
      return n >= 2 ? Status::Ok() : bad("length");
    case opt6::kRapidCommit:
      return n == 0 ? Status::Ok() : bad("length");
    case opt6::kUserClass:
    case opt6::kBootfileParam:
      return SplitLengthPrefixed6(o.data, nullptr) ? Status::Ok() : bad("malformed list");
    case opt6::kVendorClass:
      if (n < 4) return bad("no enterprise number");
      return SplitLengthPrefixed6(std::span(o.data).subspan(4), nullptr) ? Status::Ok() : bad("malformed list");
    case opt6::kDnsServers:
      return n % 16 == 0 ? Status::Ok() : bad("not a list of addresses");
    case opt6::kNii:
      return n == 3 ? Status::Ok() : bad("length");
    default:
      return Status::Ok();  // kept as opaque bytes
  }
}

Status CheckOptions6(const std::vector<Option6>& options, int depth) {
  for (const auto& o : options)
    if (auto st = CheckOption6(o, depth); !st.ok()) return st;
  return Status::Ok();
}

std::vector<Option6> InnerOptions6(const std::vector<std::uint8_t>& data, std::size_t offset) {
  std::vector<Option6> inner;
  if (data.size() >= offset) (void)SplitOptions6(data.data() + offset, data.size() - offset, inner);
  return inner;
}

}  // namespace

std::string_view MsgTypeName(MsgType t) {
  switch (t) {
    case MsgType::kSolicit: return "SOLICIT";
    case MsgType::kAdvertise: return "ADVERTISE";
    case MsgType::kRequest: return "REQUEST";
    case MsgType::kConfirm: return "CONFIRM";
    case MsgType::kRenew: return "RENEW";
    case MsgType::kRebind: return "REBIND";
    case MsgType::kReply: return "REPLY";
    case MsgType::kRelease: return "RELEASE";
    case MsgType::kDecline: return "DECLINE";
    case MsgType::kReconfigure: return "RECONFIGURE";
    case MsgType::kInformationRequest: return "INFORMATION-REQUEST";
  }
  return "DHCPV6?";
}

const Option6* Message6::Find(std::uint16_t code) const {
  for (const auto& o : options)
    if (o.code == code) return &o;
  return nullptr;
}

std::vector<const Option6*> Message6::FindAll(std::uint16_t code) const {
  std::vector<const Option6*> out;
  for (const auto& o : options)
    if (o.code == code) out.push_back(&o);
  return out;
}

std::vector<std::uint8_t> Message6::ClientId() const {
  const auto* o = Find(opt6::kClientId);
  return o ? o->data : std::vector<std::uint8_t>{};
}

std::vector<std::uint8_t> Message6::ServerId() const {
  const auto* o = Find(opt6::kServerId);
  return o ? o->data : std::vector<std::uint8_t>{};
}

std::vector<std::uint16_t> Message6::RequestedOptions() const {
  std::vector<std::uint16_t> out;
  if (const auto* o = Find(opt6::kOro))
    for (std::size_t i = 0; i + 1 < o->data.size(); i += 2) out.push_back(Get16v6(o->data.data() + i));
  return out;
}

std::vector<IaNa> Message6::IaNas() const {
  std::vector<IaNa> out;
  for (const auto* o : FindAll(opt6::kIaNa)) {
    if (o->data.size() < 12) continue;
    IaNa ia;
    ia.iaid = Get32v6(o->data.data());
    ia.t1 = Get32v6(o->data.data() + 4);
    ia.t2 = Get32v6(o->data.data() + 8);
    for (auto& inner : InnerOptions6(o->data, 12)) {
      if (inner.code == opt6::kIaAddr && inner.data.size() >= 24) {
        IaAddress a;
        std::copy_n(inner.data.begin(), 16, a.address.bytes.begin());
        a.preferred = Get32v6(inner.data.data() + 16);
        a.valid = Get32v6(inner.data.data() + 20);
        a.options = InnerOptions6(inner.data, 24);
        ia.addresses.push_back(std::move(a));
      } else if (inner.code == opt6::kStatusCode && inner.data.size() >= 2) {
        ia.status = static_cast<StatusCode>(Get16v6(inner.data.data()));
        ia.status_message.assign(inner.data.begin() + 2, inner.data.end());
      }
    }
    out.push_back(std::move(ia));
  }
  return out;
}

std::optional<VendorClass> Message6::GetVendorClass() const {
  const auto* o = Find(opt6::kVendorClass);
  if (o == nullptr || o->data.size() < 4) return std::nullopt;
  VendorClass vc;
  vc.enterprise = Get32v6(o->data.data());
  if (!SplitLengthPrefixed6(std::span(o->data).subspan(4), &vc.data)) return std::nullopt;
  return vc;
}

std::vector<std::string> Message6::UserClasses() const {
  std::vector<std::string> out;
  if (const auto* o = Find(opt6::kUserClass)) SplitLengthPrefixed6(o->data, &out);
  return out;
}

std::vector<std::uint16_t> Message6::ClientArchTypes() const {
  std::vector<std::uint16_t> out;
  if (const auto* o = Find(opt6::kClientArchType))
    for (std::size_t i = 0; i + 1 < o->data.size(); i += 2) out.push_back(Get16v6(o->data.data() + i));
  return out;
}

std::optional<std::string> Message6::BootfileUrl() const {
  const auto* o = Find(opt6::kBootfileUrl);
  if (o == nullptr) return std::nullopt;
  return std::string(o->data.begin(), o->data.end());
}

std::vector<std::string> Message6::BootfileParams() const {
  std::vector<std::string> out;
  if (const auto* o = Find(opt6::kBootfileParam)) SplitLengthPrefixed6(o->data, &out);
  return out;
}

std::optional<StatusCode> Message6::Status() const {
  const auto* o = Find(opt6::kStatusCode);
  if (o == nullptr || o->data.size() < 2) return std::nullopt;
  return static_cast<StatusCode>(Get16v6(o->data.data()));
}

Result<Message6> ParseMessage6(std::span<const std::byte> bytes) {
  if (bytes.size() < 4) return Malformed6("shorter than its 4-byte header");
  if (bytes.size() > kMaxMessageSize) return Malformed6("larger than a UDP payload");
  const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
  if (p[0] == 12 || p[0] == 13) return Malformed6("relay messages are not served");
  if (p[0] < 1 || p[0] > 11) return Malformed6("unknown message type " + std::to_string(p[0]));
  Message6 m;
  m.type = static_cast<MsgType>(p[0]);
  m.xid = (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
  if (auto st = SplitOptions6(p + 4, bytes.size() - 4, m.options); !st.ok()) return st;
  if (auto st = CheckOptions6(m.options, 0); !st.ok()) return st;
  return m;
}

Result<std::vector<std::byte>> SerializeMessage6(const Message6& msg) {
  std::vector<std::uint8_t> out;
  out.push_back(static_cast<std::uint8_t>(msg.type));
  out.push_back(static_cast<std::uint8_t>(msg.xid >> 16));
  out.push_back(static_cast<std::uint8_t>(msg.xid >> 8));
  out.push_back(static_cast<std::uint8_t>(msg.xid));
  for (const auto& o : msg.options) {
    if (o.data.size() > 0xffff) return Malformed6("option " + std::to_string(o.code) + " longer than 65535 bytes");
    AppendOption6(out, o);
  }
  if (out.size() > kMaxMessageSize) return Malformed6("message larger than a UDP payload");
  std::vector<std::byte> b(out.size());
  std::memcpy(b.data(), out.data(), out.size());
  return b;
}

std::vector<std::uint8_t> EncodeIaNa(const IaNa& ia) {
  std::vector<std::uint8_t> out;
  Append32v6(out, ia.iaid);
  Append32v6(out, ia.t1);
  Append32v6(out, ia.t2);
  for (const auto& a : ia.addresses) {
    std::vector<std::uint8_t> addr(a.address.bytes.begin(), a.address.bytes.end());
    Append32v6(addr, a.preferred);
    Append32v6(addr, a.valid);
    for (const auto& o : a.options) AppendOption6(addr, o);
    AppendOption6(out, Option6{opt6::kIaAddr, std::move(addr)});
  }
  if (ia.status) AppendOption6(out, Option6{opt6::kStatusCode, EncodeStatus(*ia.status, ia.status_message)});
  return out;
}

std::vector<std::uint8_t> EncodeStatus(StatusCode code, std::string_view message) {
  // Sized up front: GCC 12 misreads push_back followed by insert (-Warray-bounds).
  std::vector<std::uint8_t> out(2 + message.size());
  out[0] = static_cast<std::uint8_t>(static_cast<std::uint16_t>(code) >> 8);
  out[1] = static_cast<std::uint8_t>(code);
  if (!message.empty()) std::memcpy(out.data() + 2, message.data(), message.size());
  return out;
}

std::vector<std::uint8_t> EncodeStringList(const std::vector<std::string>& items) {
  std::vector<std::uint8_t> out;
  for (const auto& s : items) {
    const std::size_t n = std::min<std::size_t>(s.size(), 0xffff);
    Append16v6(out, static_cast<std::uint16_t>(n));
    out.insert(out.end(), s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
  }
  return out;
}

std::vector<std::uint8_t> EncodeVendorClass(const VendorClass& vc) {
  std::vector<std::uint8_t> out;
  Append32v6(out, vc.enterprise);
  auto items = EncodeStringList(vc.data);
  out.insert(out.end(), items.begin(), items.end());
  return out;
}

std::vector<std::uint8_t> EncodeAddressList(const std::vector<Ipv6Address>& list) {
  std::vector<std::uint8_t> out;
  for (const auto& a : list) out.insert(out.end(), a.bytes.begin(), a.bytes.end());
  return out;
}

std::vector<std::uint8_t> EncodeU16List(const std::vector<std::uint16_t>& list) {
  std::vector<std::uint8_t> out;
  for (auto v : list) Append16v6(out, v);
  return out;
}

std::optional<MacAddress> MacFromDuid(std::span<const std::uint8_t> duid) {
  if (duid.size() < 4) return std::nullopt;
  const auto type = static_cast<DuidType>(Get16v6(duid.data()));
  const std::uint16_t hwtype = Get16v6(duid.data() + 2);
  std::size_t offset = 0;
  if (type == DuidType::kLlt) offset = 8;
  else if (type == DuidType::kLl) offset = 4;
  else return std::nullopt;
  if (hwtype != 1 || duid.size() != offset + 6) return std::nullopt;
  MacAddress mac;
  std::copy_n(duid.begin() + static_cast<std::ptrdiff_t>(offset), 6, mac.bytes.begin());
  return mac;
}

std::optional<MacAddress> MacFromLinkLocal(const Ipv6Address& source) {
  const auto& b = source.bytes;
  if (!source.IsLinkLocal()) return std::nullopt;
  for (int i = 2; i < 8; ++i)
    if (b[i] != 0) return std::nullopt;
  if (b[11] != 0xff || b[12] != 0xfe) return std::nullopt;
  return MacAddress{{static_cast<std::uint8_t>(b[8] ^ 0x02), b[9], b[10], b[13], b[14], b[15]}};
}

std::vector<std::uint8_t> DuidLl(const MacAddress& mac) {
  const auto& m = mac.bytes;
  return {0, static_cast<std::uint8_t>(DuidType::kLl), 0, 1 /* Ethernet */, m[0], m[1], m[2], m[3], m[4], m[5]};
}

std::string UuidFromDuid(std::span<const std::uint8_t> duid) {
  if (duid.size() != 18 || Get16v6(duid.data()) != static_cast<std::uint16_t>(DuidType::kUuid)) return "";
  const std::string h = HexLower(duid.subspan(2));
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

}  // namespace metalpxe::dhcp6
