#include "dhcp/probe_codec.h"

#include "dhcp/internet_checksum.h"

namespace metalpxe::dhcp {
namespace {

constexpr std::size_t kArpLength = 28;

std::uint16_t ProbeBe16(std::span<const std::uint8_t> p, std::size_t at) {
  return static_cast<std::uint16_t>(p[at] << 8 | p[at + 1]);
}

std::uint32_t ProbeBe32(std::span<const std::uint8_t> p, std::size_t at) {
  return std::uint32_t(p[at]) << 24 | std::uint32_t(p[at + 1]) << 16 | std::uint32_t(p[at + 2]) << 8 | p[at + 3];
}

}  // namespace

std::vector<std::uint8_t> EncodeArpProbe(const MacAddress& our_mac, Ipv4Address target) {
  std::vector<std::uint8_t> p(kArpLength, 0);
  p[1] = 1;            // hardware type: Ethernet
  p[2] = 0x08;         // protocol type: IPv4
  p[4] = 6;            // hardware address length
  p[5] = 4;            // protocol address length
  p[7] = 1;            // operation: request
  for (std::size_t i = 0; i < 6; ++i) p[8 + i] = our_mac.bytes[i];
  // Sender protocol address (14..17) stays 0.0.0.0: a probe; target hardware
  // address (18..23) stays zero.
  for (std::size_t i = 0; i < 4; ++i) p[24 + i] = static_cast<std::uint8_t>(target.value >> (24 - 8 * i));
  return p;
}

std::optional<Ipv4Address> ArpSenderAddress(std::span<const std::uint8_t> p) {
  if (p.size() < kArpLength) return std::nullopt;
  if (ProbeBe16(p, 0) != 1 || ProbeBe16(p, 2) != 0x0800 || p[4] != 6 || p[5] != 4) return std::nullopt;
  const std::uint16_t op = ProbeBe16(p, 6);
  if (op != 1 && op != 2) return std::nullopt;
  const Ipv4Address sender{ProbeBe32(p, 14)};
  if (sender.IsUnspecified()) return std::nullopt;
  return sender;
}

std::vector<std::uint8_t> EncodeEchoRequest(std::uint16_t id, std::uint16_t seq) {
  std::vector<std::uint8_t> p = {8, 0, 0, 0, static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id),
                                 static_cast<std::uint8_t>(seq >> 8), static_cast<std::uint8_t>(seq),
                                 'm', 'e', 't', 'a', 'l', 'p', 'x', 'e'};
  const std::uint16_t sum = InternetChecksum(p);
  p[2] = static_cast<std::uint8_t>(sum >> 8);
  p[3] = static_cast<std::uint8_t>(sum);
  return p;
}

std::optional<Ipv4Address> EchoReplySource(std::span<const std::uint8_t> p, std::uint16_t id) {
  if (p.size() < 20 || (p[0] >> 4) != 4) return std::nullopt;
  const std::size_t ihl = static_cast<std::size_t>(p[0] & 0x0f) * 4;
  if (ihl < 20 || p.size() < ihl + 8 || p[9] != 1 /* ICMP */) return std::nullopt;
  if (p[ihl] != 0 /* echo reply */ || p[ihl + 1] != 0) return std::nullopt;
  if (ProbeBe16(p, ihl + 4) != id) return std::nullopt;
  const Ipv4Address source{ProbeBe32(p, 12)};
  if (source.IsUnspecified()) return std::nullopt;
  return source;
}

}  // namespace metalpxe::dhcp
