#include "dhcp/address_probe.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>
#include <unordered_map>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/log.h"

namespace metalpxe::dhcp {
namespace {

// RFC 826 / RFC 5227 ARP for IPv4 over Ethernet, as it travels after the
// Ethernet header (a SOCK_DGRAM packet socket adds and strips that).
struct ArpPacket {
  std::uint16_t htype, ptype;
  std::uint8_t hlen, plen;
  std::uint16_t op;
  std::uint8_t sha[6];
  std::uint8_t spa[4];
  std::uint8_t tha[6];
  std::uint8_t tpa[4];
} __attribute__((packed));
static_assert(sizeof(ArpPacket) == 28);

constexpr int kLinuxIcmpFilter = 1;  // ICMP_FILTER of <linux/icmp.h>, which clashes with <netinet/ip_icmp.h>

std::uint16_t IcmpChecksum(const std::uint8_t* data, std::size_t len) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
  if (len % 2 != 0) sum += static_cast<std::uint32_t>(data[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

std::uint32_t ArpIp(const std::uint8_t (&b)[4]) {
  return std::uint32_t(b[0]) << 24 | std::uint32_t(b[1]) << 16 | std::uint32_t(b[2]) << 8 | b[3];
}

}  // namespace

struct AddressProber::Impl : std::enable_shared_from_this<Impl> {
  struct Outstanding {
    std::vector<Done> waiters;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };

  Impl(boost::asio::io_context& io, AddressProbeOptions options)
      : io(io), options(options), arp(io), icmp(io), echo_id(static_cast<std::uint16_t>(std::random_device{}())) {}

  boost::asio::io_context& io;
  const AddressProbeOptions options;
  boost::asio::posix::stream_descriptor arp;
  boost::asio::posix::stream_descriptor icmp;
  const std::uint16_t echo_id;

  mutable std::mutex mu;  // everything below
  bool open = false;
  std::unordered_map<std::uint32_t, Outstanding> outstanding;  // by address
  std::unordered_map<int, std::optional<std::array<std::uint8_t, 6>>> if_macs;
  std::uint16_t echo_seq = 0;
  AddressProbeStats stats;

  std::optional<std::array<std::uint8_t, 6>> InterfaceMac(int ifindex) {
    if (auto it = if_macs.find(ifindex); it != if_macs.end()) return it->second;
    std::optional<std::array<std::uint8_t, 6>> mac;
    // Asked through our own socket, so in the network namespace the socket
    // was opened in (not the calling thread's, as if_indextoname would).
    ifreq ifr{};
    ifr.ifr_ifindex = ifindex;
    if (ioctl(arp.native_handle(), SIOCGIFNAME, &ifr) == 0 && ioctl(arp.native_handle(), SIOCGIFHWADDR, &ifr) == 0 &&
        ifr.ifr_hwaddr.sa_family == 1 /* ARPHRD_ETHER */) {
      mac.emplace();
      std::memcpy(mac->data(), ifr.ifr_hwaddr.sa_data, 6);
    }
    if (if_macs.size() > 256) if_macs.clear();  // interfaces come and go; never grows without end
    if_macs[ifindex] = mac;
    return mac;
  }

  bool SendArpProbe(Ipv4Address ip, int ifindex) {
    auto mac = InterfaceMac(ifindex);
    if (!mac) return false;
    ArpPacket p{};
    p.htype = htons(1);
    p.ptype = htons(ETHERTYPE_IP);
    p.hlen = 6;
    p.plen = 4;
    p.op = htons(1);
    std::memcpy(p.sha, mac->data(), 6);
    // spa stays 0.0.0.0: a probe (RFC 5227 2.1.1), which a host that holds
    // the address answers without learning anything from it.
    const std::uint32_t t = ip.value;
    p.tpa[0] = static_cast<std::uint8_t>(t >> 24);
    p.tpa[1] = static_cast<std::uint8_t>(t >> 16);
    p.tpa[2] = static_cast<std::uint8_t>(t >> 8);
    p.tpa[3] = static_cast<std::uint8_t>(t);
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_protocol = htons(ETH_P_ARP);
    to.sll_ifindex = ifindex;
    to.sll_halen = 6;
    std::memset(to.sll_addr, 0xff, 6);
    return sendto(arp.native_handle(), &p, sizeof p, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
           static_cast<ssize_t>(sizeof p);
  }

  bool SendEcho(Ipv4Address ip) {
    std::uint8_t pkt[16] = {};
    pkt[0] = ICMP_ECHO;
    pkt[4] = static_cast<std::uint8_t>(echo_id >> 8);
    pkt[5] = static_cast<std::uint8_t>(echo_id);
    const std::uint16_t seq = ++echo_seq;
    pkt[6] = static_cast<std::uint8_t>(seq >> 8);
    pkt[7] = static_cast<std::uint8_t>(seq);
    std::memcpy(pkt + 8, "metalpxe", 8);
    const std::uint16_t sum = IcmpChecksum(pkt, sizeof pkt);
    pkt[2] = static_cast<std::uint8_t>(sum >> 8);
    pkt[3] = static_cast<std::uint8_t>(sum);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(ip.value);
    return sendto(icmp.native_handle(), pkt, sizeof pkt, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
           static_cast<ssize_t>(sizeof pkt);
  }

  // Runs the waiters of `ip` (if still outstanding) outside the lock.
  void Finish(std::uint32_t ip, bool in_use) {
    std::vector<Done> waiters;
    {
      std::lock_guard lock(mu);
      auto it = outstanding.find(ip);
      if (it == outstanding.end()) return;
      waiters = std::move(it->second.waiters);
      if (it->second.timer) it->second.timer->cancel();
      outstanding.erase(it);
      if (in_use) ++stats.in_use;
    }
    for (auto& w : waiters) w(in_use);
  }

  void ArmArp() {
    std::weak_ptr<Impl> weak = shared_from_this();
    arp.async_wait(boost::asio::posix::descriptor_base::wait_read, [weak](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      self->ReadArp();
      self->ArmArp();
    });
  }
  void ArmIcmp() {
    std::weak_ptr<Impl> weak = shared_from_this();
    icmp.async_wait(boost::asio::posix::descriptor_base::wait_read, [weak](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      self->ReadIcmp();
      self->ArmIcmp();
    });
  }

  // Any ARP packet whose sender is a probed address (a reply to our probe,
  // or the holder's own request) says the address is in use. Bounded reads
  // per wake-up: ARP traffic of a busy link must not starve the server.
  void ReadArp() {
    for (int i = 0; i < 64; ++i) {
      ArpPacket p{};
      const ssize_t n = recv(arp.native_handle(), &p, sizeof p, MSG_DONTWAIT);
      if (n < 0) return;
      if (n < static_cast<ssize_t>(sizeof p) || p.hlen != 6 || p.plen != 4 || ntohs(p.ptype) != ETHERTYPE_IP)
        continue;
      const std::uint32_t sender = ArpIp(p.spa);
      if (sender == 0) continue;  // another host's probe, not a holder
      Finish(sender, true);
    }
  }

  void ReadIcmp() {
    for (int i = 0; i < 64; ++i) {
      std::uint8_t buf[256];
      sockaddr_in from{};
      socklen_t from_len = sizeof from;
      const ssize_t n = recvfrom(icmp.native_handle(), buf, sizeof buf, MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 0) return;
      // A raw ICMP socket reads the IP header too.
      if (n < 20) continue;
      const std::size_t ihl = static_cast<std::size_t>(buf[0] & 0x0f) * 4;
      if (ihl < 20 || static_cast<std::size_t>(n) < ihl + 8) continue;
      const std::uint8_t* icmph = buf + ihl;
      if (icmph[0] != ICMP_ECHOREPLY) continue;
      const std::uint16_t id = static_cast<std::uint16_t>(icmph[4] << 8 | icmph[5]);
      if (id != echo_id) continue;
      Finish(ntohl(from.sin_addr.s_addr), true);
    }
  }
};

AddressProber::AddressProber(boost::asio::io_context& io, AddressProbeOptions options)
    : impl_(std::make_shared<Impl>(io, options)) {}

AddressProber::~AddressProber() { Close(); }

Status AddressProber::Open() {
  const int arp_fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ARP));
  if (arp_fd < 0) return Status(ErrorCode::kPermissionDenied, std::string("ARP socket: ") + std::strerror(errno));
  const int icmp_fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (icmp_fd < 0) {
    const Status s(ErrorCode::kPermissionDenied, std::string("ICMP socket: ") + std::strerror(errno));
    close(arp_fd);
    return s;
  }
  // Only echo replies are of interest; other ICMP types are filtered by the kernel.
  const std::uint32_t filter = ~(1u << ICMP_ECHOREPLY);
  setsockopt(icmp_fd, SOL_RAW, kLinuxIcmpFilter, &filter, sizeof filter);
  std::lock_guard lock(impl_->mu);
  boost::system::error_code ec;
  impl_->arp.assign(arp_fd, ec);
  if (!ec) impl_->icmp.assign(icmp_fd, ec);
  if (ec) return Status(ErrorCode::kInternal, "asio assign: " + ec.message());
  impl_->open = true;
  impl_->ArmArp();
  impl_->ArmIcmp();
  return Status::Ok();
}

void AddressProber::Close() {
  std::lock_guard lock(impl_->mu);
  if (!impl_->open) return;
  impl_->open = false;
  boost::system::error_code ec;
  impl_->arp.close(ec);
  impl_->icmp.close(ec);
  for (auto& [ip, o] : impl_->outstanding)
    if (o.timer) o.timer->cancel();
  impl_->outstanding.clear();  // their callbacks are dropped: the server is stopping
}

bool AddressProber::enabled() const {
  std::lock_guard lock(impl_->mu);
  return impl_->open;
}

bool AddressProber::HasRoom() const {
  std::lock_guard lock(impl_->mu);
  return impl_->open && impl_->outstanding.size() < impl_->options.max_in_flight;
}

std::size_t AddressProber::in_flight() const {
  std::lock_guard lock(impl_->mu);
  return impl_->outstanding.size();
}

AddressProbeStats AddressProber::Stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

void AddressProber::Probe(Ipv4Address ip, int ifindex, bool on_link, Done done) {
  bool send_failed = false;
  {
    std::lock_guard lock(impl_->mu);
    auto& s = impl_->stats;
    if (!impl_->open) {
      send_failed = true;
    } else if (auto it = impl_->outstanding.find(ip.value); it != impl_->outstanding.end()) {
      it->second.waiters.push_back(std::move(done));
      return;
    } else {
      const bool sent = on_link ? impl_->SendArpProbe(ip, ifindex) : impl_->SendEcho(ip);
      if (!sent) {
        ++s.send_errors;
        send_failed = true;
      } else {
        ++s.sent;
        auto& o = impl_->outstanding[ip.value];
        o.waiters.push_back(std::move(done));
        o.timer = std::make_unique<boost::asio::steady_timer>(impl_->io, impl_->options.timeout);
        std::weak_ptr<Impl> weak = impl_;
        o.timer->async_wait([weak, v = ip.value](const boost::system::error_code& ec) {
          if (ec) return;  // answered (cancelled) or closed
          if (auto self = weak.lock()) self->Finish(v, false);
        });
        s.max_in_flight = std::max<std::uint64_t>(s.max_in_flight, impl_->outstanding.size());
      }
    }
  }
  // Nothing could be asked: treat the address as free, as without probing,
  // but from the io_context like every other answer.
  if (send_failed) boost::asio::post(impl_->io, [done = std::move(done)] { done(false); });
}

}  // namespace metalpxe::dhcp
