#pragma once
// Linux socket details the DHCP server needs and Asio does not offer: opening
// a DHCP UDP socket (broadcast, IP_PKTINFO, SO_BINDTODEVICE), batched receive
// and send (recvmmsg/sendmmsg with the interface index of each packet), the
// ARP entry for a unicast to a client that has no address yet (as dnsmasq
// does).
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

struct OutgoingDatagram {
  std::vector<std::byte> bytes;
  Ipv4Address dest;
  std::uint16_t port = 0;
  int ifindex = 0;                 // 0: let routing choose
  bool set_arp = false;            // install dest -> mac on ifindex first
  MacAddress mac;
};

// Sends all of `out` (sendmmsg); returns how many could not be sent.
std::size_t SendBatch(int fd, std::span<const OutgoingDatagram> out);


}  // namespace metalpxe::dhcp
