#pragma once
// Linux socket details the DHCP server needs and Asio does not offer: opening
// a DHCP UDP socket (broadcast, IP_PKTINFO, SO_BINDTODEVICE), batched receive
// and send (recvmmsg/sendmmsg with the interface index of each packet), the
// ARP entry for a unicast to a client that has no address yet (as dnsmasq
// does), and the IPv4 addresses of an interface.
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
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

// IPv4 addresses per interface index, refreshed on demand.
class InterfaceAddresses {
 public:
  const std::vector<Ipv4Address>& Of(int ifindex);

 private:
  void Refresh();
  std::unordered_map<int, std::vector<Ipv4Address>> by_index_;
  std::int64_t last_refresh_ms_ = -1'000'000;
};

}  // namespace metalpxe::dhcp
