#pragma once
// An IPv4 + UDP packet around a DHCP reply, for sending through a packet
// socket to a client that has no address yet (the link layer header comes
// from the socket). Pure.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/net_types.h"

namespace metalpxe::dhcp {

struct UdpEndpoints {
  Ipv4Address source;
  std::uint16_t source_port = 0;
  Ipv4Address destination;
  std::uint16_t destination_port = 0;
};

// IPv4 header (20 bytes, DF set, TTL 64, header checksum) + UDP header (with
// its checksum over the pseudo-header, RFC 768) + `payload`. Payloads that do
// not fit one datagram (65,507 bytes) yield an empty vector.
std::vector<std::byte> EncodeIpv4Udp(const UdpEndpoints& endpoints, std::span<const std::byte> payload);

}  // namespace metalpxe::dhcp
