#pragma once
// Linux socket details the DHCP server needs and Asio does not offer: opening
// a DHCP UDP socket (broadcast, IP_PKTINFO, SO_BINDTODEVICE), batched receive
// and send (recvmmsg/sendmmsg with the interface index of each packet), and
// the unicast to a client that has no address yet (RFC 2131 4.1).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/net_types.h"
#include "core/result.h"

namespace metalpxe::dhcp {

// A bound, non-blocking UDP socket; the caller owns the fd (hands it to Asio).
Result<int> OpenDhcpSocket(std::uint16_t port, const std::string& interface);

struct Datagram {
  std::vector<std::byte> bytes;
  Ipv4Address peer;
  std::uint16_t peer_port = 0;
  int ifindex = 0;
  // The interface's own address the kernel would answer from (IP_PKTINFO
  // ipi_spec_dst): names the client's subnet for non-relayed requests, in
  // whatever network namespace the socket was opened.
  Ipv4Address local;
  bool truncated = false;
};

// Reads up to `max` datagrams without blocking into `out` (cleared first).
// Returns how many were read (0 when none were waiting).
int ReceiveBatch(int fd, std::size_t max, std::vector<Datagram>& out);

// A packet socket for unicasts to clients that have no address yet. It
// needs only CAP_NET_RAW (which the unit grants for the ping-check) where
// the ARP-entry way needs CAP_NET_ADMIN; protocol 0, so it receives nothing.
Result<int> OpenUnicastPacketSocket();

struct OutgoingDatagram {
  std::vector<std::byte> bytes;
  Ipv4Address dest;
  std::uint16_t port = 0;
  int ifindex = 0;  // 0: let routing choose
  // To a client with no address yet: straight to `mac` on `ifindex`, from
  // `source`:`source_port` (our address on that link).
  bool to_unconfigured_client = false;
  MacAddress mac;
  Ipv4Address source;
  std::uint16_t source_port = 0;
};

struct SendCounts {
  std::size_t failed = 0;             // could not be sent at all
  std::size_t broadcast_instead = 0;  // a unicast to an unconfigured client sent as broadcast
};

// Sends all of `out`: plain datagrams through `fd` (sendmmsg). Unicasts to
// unconfigured clients go through `packet_fd` when it is open (>= 0), else
// through an ARP entry and `fd` as dnsmasq does (CAP_NET_ADMIN), else as a
// broadcast, which every client accepts (Kea's way without raw sockets):
// never into an ARP lookup the client cannot answer.
SendCounts SendBatch(int fd, int packet_fd, std::span<const OutgoingDatagram> out);


}  // namespace metalpxe::dhcp
