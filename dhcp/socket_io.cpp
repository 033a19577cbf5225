#include "dhcp/socket_io.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "dhcp/udp_frame.h"

namespace metalpxe::dhcp {
namespace {

constexpr std::size_t kMaxDatagram = 4096;
constexpr std::size_t kMaxBatch = 64;

Status Errno(const std::string& what) { return Status(ErrorCode::kUnavailable, what + ": " + std::strerror(errno)); }

}  // namespace

Result<int> OpenDhcpSocket(std::uint16_t port, const std::string& interface) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  const int one = 1;
  const int rcvbuf = 8 << 20;
  bool ok = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
            setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) == 0 &&
            setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) == 0;
  // A deep receive queue rides out boot storms; FORCE needs CAP_NET_ADMIN, so
  // fall back to the unprivileged call quietly.
  if (ok && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (ok && !interface.empty())
    ok = setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, interface.c_str(), static_cast<socklen_t>(interface.size())) == 0;
  if (!ok) {
    Status s = Errno("setsockopt on DHCP socket");
    close(fd);
    return s;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Status s = Errno("bind UDP port " + std::to_string(port));
    close(fd);
    return s;
  }
  return fd;
}

int ReceiveBatch(int fd, std::size_t max, std::vector<Datagram>& out) {
  out.clear();
  max = std::min(max, kMaxBatch);
  static thread_local std::vector<std::byte> buffers(kMaxBatch * kMaxDatagram);
  mmsghdr msgs[kMaxBatch];
  iovec iov[kMaxBatch];
  sockaddr_in names[kMaxBatch];
  alignas(cmsghdr) char control[kMaxBatch][CMSG_SPACE(sizeof(in_pktinfo))];
  std::memset(msgs, 0, sizeof(mmsghdr) * max);
  for (std::size_t i = 0; i < max; ++i) {
    iov[i] = {buffers.data() + i * kMaxDatagram, kMaxDatagram};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &names[i];
    msgs[i].msg_hdr.msg_namelen = sizeof names[i];
    msgs[i].msg_hdr.msg_control = control[i];
    msgs[i].msg_hdr.msg_controllen = sizeof control[i];
  }
  const int n = recvmmsg(fd, msgs, static_cast<unsigned>(max), MSG_DONTWAIT, nullptr);
  if (n <= 0) return 0;
  out.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto& d = out[static_cast<std::size_t>(i)];
    const auto* base = buffers.data() + static_cast<std::size_t>(i) * kMaxDatagram;
    const std::size_t len = std::min<std::size_t>(msgs[i].msg_len, kMaxDatagram);
    d.bytes.assign(base, base + len);
    d.truncated = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    d.peer = Ipv4Address{ntohl(names[i].sin_addr.s_addr)};
    d.peer_port = ntohs(names[i].sin_port);
    for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c != nullptr; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        d.ifindex = info.ipi_ifindex;
        d.local = Ipv4Address{ntohl(info.ipi_spec_dst.s_addr)};
      }
    }
  }
  return n;
}

Result<int> OpenUnicastPacketSocket() {
  const int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("packet socket");
  return fd;
}

namespace {

// dnsmasq's way to reach a client with no address without a packet socket:
// tell the kernel the address's hardware address, then send plain UDP.
// False when the kernel refuses (no CAP_NET_ADMIN).
bool SetArpEntry(int fd, int ifindex, Ipv4Address ip, const MacAddress& mac) {
  arpreq req{};
  auto* pa = reinterpret_cast<sockaddr_in*>(&req.arp_pa);
  pa->sin_family = AF_INET;
  pa->sin_addr.s_addr = htonl(ip.value);
  req.arp_ha.sa_family = ARPHRD_ETHER;
  std::memcpy(req.arp_ha.sa_data, mac.bytes.data(), 6);
  req.arp_flags = ATF_COM;
  // The name through our own socket (SIOCGIFNAME), not if_indextoname(): the
  // socket's network namespace is the one that counts, not the thread's.
  ifreq ifr{};
  ifr.ifr_ifindex = ifindex;
  if (ioctl(fd, SIOCGIFNAME, &ifr) != 0) return false;
  std::memcpy(req.arp_dev, ifr.ifr_name, std::min(sizeof req.arp_dev - 1, std::strlen(ifr.ifr_name)));
  return ioctl(fd, SIOCSARP, &req) == 0;
}

// Kea's "direct response": the IP and UDP headers are ours, the Ethernet
// header the kernel's, addressed to the client's hardware address.
bool SendToHardwareAddress(int packet_fd, const OutgoingDatagram& o) {
  if (packet_fd < 0 || o.ifindex <= 0 || o.source.IsUnspecified()) return false;
  const auto packet = EncodeIpv4Udp({o.source, o.source_port, o.dest, o.port}, o.bytes);
  if (packet.empty()) return false;
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_IP);
  to.sll_ifindex = o.ifindex;
  to.sll_halen = 6;
  std::memcpy(to.sll_addr, o.mac.bytes.data(), 6);
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (sendto(packet_fd, packet.data(), packet.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
        static_cast<ssize_t>(packet.size()))
      return true;
    if (errno != EAGAIN && errno != EINTR) return false;
  }
  return false;
}

}  // namespace

SendCounts SendBatch(int fd, int packet_fd, std::span<const OutgoingDatagram> all) {
  SendCounts counts;
  // Unicasts to unconfigured clients that went out through the packet socket
  // leave the UDP batch; the others go in it, possibly as broadcasts.
  std::vector<const OutgoingDatagram*> out;
  std::vector<Ipv4Address> dest;
  out.reserve(all.size());
  dest.reserve(all.size());
  for (const auto& o : all) {
    Ipv4Address to = o.dest;
    if (o.to_unconfigured_client) {
      if (SendToHardwareAddress(packet_fd, o)) continue;
      if (!SetArpEntry(fd, o.ifindex, o.dest, o.mac)) {
        to = Ipv4Address{0xffffffff};
        ++counts.broadcast_instead;
      }
    }
    out.push_back(&o);
    dest.push_back(to);
  }
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t n = std::min(kMaxBatch, out.size() - done);
    mmsghdr msgs[kMaxBatch];
    iovec iov[kMaxBatch];
    sockaddr_in dests[kMaxBatch];
    alignas(cmsghdr) char control[kMaxBatch][CMSG_SPACE(sizeof(in_pktinfo))];
    std::memset(msgs, 0, sizeof(mmsghdr) * n);
    std::memset(control, 0, sizeof control[0] * n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& o = *out[done + i];
      iov[i] = {const_cast<std::byte*>(o.bytes.data()), o.bytes.size()};
      dests[i] = {};
      dests[i].sin_family = AF_INET;
      dests[i].sin_port = htons(o.port);
      dests[i].sin_addr.s_addr = htonl(dest[done + i].value);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &dests[i];
      msgs[i].msg_hdr.msg_namelen = sizeof dests[i];
      if (o.ifindex > 0) {
        // Out of the interface the request came in on (matters for broadcasts).
        msgs[i].msg_hdr.msg_control = control[i];
        msgs[i].msg_hdr.msg_controllen = sizeof control[i];
        cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr);
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
        in_pktinfo info{};
        info.ipi_ifindex = o.ifindex;
        std::memcpy(CMSG_DATA(c), &info, sizeof info);
      }
    }
    std::size_t sent = 0;
    for (int attempt = 0; sent < n && attempt < 4; ++attempt) {
      const int r = sendmmsg(fd, msgs + sent, static_cast<unsigned>(n - sent), MSG_DONTWAIT);
      if (r > 0) {
        sent += static_cast<std::size_t>(r);
        attempt = -1;  // progress: keep going
      } else if (r < 0 && errno != EAGAIN && errno != EINTR) {
        ++sent;  // this one cannot go (e.g. unreachable): skip it
        ++counts.failed;
        attempt = -1;
      }
    }
    counts.failed += n - sent;
    done += n;
  }
  return counts;
}

}  // namespace metalpxe::dhcp
