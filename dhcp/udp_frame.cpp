#include "dhcp/udp_frame.h"

#include <cstring>

#include "dhcp/internet_checksum.h"

namespace metalpxe::dhcp {
namespace {

constexpr std::size_t kIpv4HeaderLength = 20;
constexpr std::size_t kUdpHeaderLength = 8;
constexpr std::size_t kMaxUdpPayload = 65535 - kIpv4HeaderLength - kUdpHeaderLength;
constexpr std::uint8_t kProtocolUdp = 17;

void PutFrameBe16(std::uint8_t* at, std::uint32_t v) {
  at[0] = static_cast<std::uint8_t>(v >> 8);
  at[1] = static_cast<std::uint8_t>(v);
}

void PutFrameBe32(std::uint8_t* at, std::uint32_t v) {
  PutFrameBe16(at, v >> 16);
  PutFrameBe16(at + 2, v & 0xffff);
}

}  // namespace

std::vector<std::byte> EncodeIpv4Udp(const UdpEndpoints& e, std::span<const std::byte> payload) {
  if (payload.size() > kMaxUdpPayload) return {};
  const std::size_t udp_length = kUdpHeaderLength + payload.size();
  const std::size_t total = kIpv4HeaderLength + udp_length;
  std::vector<std::byte> out(total);
  auto* p = reinterpret_cast<std::uint8_t*>(out.data());

  p[0] = 0x45;  // version 4, 5 words of header
  PutFrameBe16(p + 2, static_cast<std::uint32_t>(total));
  // Identification 0 with Don't Fragment: an atomic datagram (RFC 6864).
  PutFrameBe16(p + 6, 0x4000);
  p[8] = 64;  // TTL
  p[9] = kProtocolUdp;
  PutFrameBe32(p + 12, e.source.value);
  PutFrameBe32(p + 16, e.destination.value);
  PutFrameBe16(p + 10, InternetChecksum({p, kIpv4HeaderLength}));

  std::uint8_t* udp = p + kIpv4HeaderLength;
  PutFrameBe16(udp, e.source_port);
  PutFrameBe16(udp + 2, e.destination_port);
  PutFrameBe16(udp + 4, static_cast<std::uint32_t>(udp_length));
  if (!payload.empty()) std::memcpy(udp + kUdpHeaderLength, payload.data(), payload.size());
  // Pseudo-header: both addresses, the protocol and the UDP length.
  std::uint32_t pseudo = InternetSum({p + 12, 8});
  pseudo += kProtocolUdp;
  pseudo += static_cast<std::uint32_t>(udp_length);
  std::uint16_t sum = InternetChecksumOf(InternetSum({udp, udp_length}, pseudo));
  if (sum == 0) sum = 0xffff;  // 0 means "no checksum" in UDP over IPv4
  PutFrameBe16(udp + 6, sum);
  return out;
}

}  // namespace metalpxe::dhcp
