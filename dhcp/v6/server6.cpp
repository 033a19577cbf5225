#include "dhcp/v6/server6.h"

#include <atomic>

#include <ifaddrs.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <netinet/in.h>

#include <array>
#include <chrono>
#include <cstring>

#include <boost/asio/ip/address_v6.hpp>
#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <spdlog/spdlog.h>

#include "dhcp/message.h"

namespace metalpxe::dhcp6 {
namespace {

using boost::asio::ip::udp;

// The global addresses of interface `ifindex` (they pick the served subnet).
std::vector<Ipv6Address> InterfaceAddresses6(unsigned ifindex) {
  std::vector<Ipv6Address> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET6 || i->ifa_name == nullptr) continue;
    if (if_nametoindex(i->ifa_name) != ifindex) continue;
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
    Ipv6Address a;
    std::memcpy(a.bytes.data(), sin6->sin6_addr.s6_addr, 16);
    if (!a.IsLinkLocal()) out.push_back(a);
  }
  freeifaddrs(list);
  return out;
}

// The interface's MAC, for the server's DUID-LL (SIOCGIFHWADDR on `fd`: the
// socket's own network namespace); a fixed locally administered one when it
// has none.
MacAddress InterfaceMac6(int fd, const std::string& name) {
  MacAddress mac{{0x02, 0x6d, 0x70, 0x78, 0x65, 0x01}};
  if (name.empty() || name.size() >= IFNAMSIZ) return mac;
  ifreq req{};
  std::memcpy(req.ifr_name, name.c_str(), name.size());
  if (ioctl(fd, SIOCGIFHWADDR, &req) != 0) return mac;
  std::memcpy(mac.bytes.data(), req.ifr_hwaddr.sa_data, 6);
  return mac;
}

}  // namespace

struct Dhcp6Server::Impl {
  Impl(boost::asio::io_context& i, const ConfigSource& c, dhcp::BootPolicy p, Dhcp6Observer o,
       Dhcp6ServerOptions opts)
      : io(i), config(c), policy(std::move(p)), observer(std::move(o)), options(opts), socket(i) {}

  boost::asio::io_context& io;
  const ConfigSource& config;
  dhcp::BootPolicy policy;
  Dhcp6Observer observer;
  Dhcp6ServerOptions options;
  udp::socket socket;
  std::unique_ptr<Dhcp6Responder> responder;
  std::array<std::uint8_t, 4096> buffer{};
  udp::endpoint from;
  unsigned ifindex = 0;
  bool stopped = false;
  // Written on the io_context's thread, read by /metrics from HTTP workers.
  std::array<std::atomic<std::uint64_t>, Stats::kTypes> received_by_type{}, sent_by_type{};
  std::atomic<std::uint64_t> received{0}, malformed{0}, not_link_local{0}, unanswered{0}, send_failed{0}, replied{0},
      bindings{0};

  static std::size_t TypeIndex(std::uint8_t type) { return type < Stats::kTypes ? type : 0; }
  static void Bump(std::atomic<std::uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

  void Receive() {
    socket.async_receive_from(boost::asio::buffer(buffer), from, [this](boost::system::error_code ec, std::size_t n) {
      if (stopped || ec == boost::asio::error::operation_aborted) return;
      if (!ec) OnPacket(n);
      Receive();
    });
  }

  void OnPacket(std::size_t n) {
    Bump(received);
    if (n > 0) Bump(received_by_type[TypeIndex(buffer[0])]);
    const auto src = from.address().is_v6() ? from.address().to_v6() : boost::asio::ip::address_v6();
    // Only on-link clients: replies go to their link-local address.
    if (!from.address().is_v6() || !src.is_link_local() || (ifindex != 0 && src.scope_id() != ifindex)) {
      Bump(not_link_local);
      return;
    }
    auto msg = ParseMessage6(std::as_bytes(std::span(buffer.data(), n)));
    if (!msg.ok()) {
      Bump(malformed);
      spdlog::debug("dhcp6: from {}: {}", src.to_string(), msg.status().message());
      return;
    }
    Inbound6 in;
    in.msg = std::move(*msg);
    const auto bytes = src.to_bytes();
    std::copy(bytes.begin(), bytes.end(), in.source.bytes.begin());
    in.local_addresses = InterfaceAddresses6(static_cast<unsigned>(src.scope_id()));
    responder->UpdateConfig(config.Current());
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    Decision6 d = responder->Handle(in, now);
    bindings.store(responder->bindings().size(), std::memory_order_relaxed);
    if (!d.reply) Bump(unanswered);
    if (d.reply) {
      auto out = SerializeMessage6(*d.reply);
      boost::system::error_code ec;
      if (out.ok()) socket.send_to(boost::asio::buffer(*out), udp::endpoint(src, from.port()), 0, ec);
      if (!out.ok() || ec) {
        Bump(send_failed);
        spdlog::warn("dhcp6: reply to {}: {}", src.to_string(), out.ok() ? ec.message() : out.status().message());
      } else {
        Bump(replied);
        Bump(sent_by_type[TypeIndex(static_cast<std::uint8_t>(d.reply->type))]);
      }
    }
    spdlog::debug("dhcp6: {} from {} ({}){}{}", MsgTypeName(d.observation.received), src.to_string(),
                  d.observation.mac ? d.observation.mac->ToString() : "no MAC",
                  d.observation.replied ? " -> " + std::string(MsgTypeName(*d.observation.replied)) : "",
                  d.observation.why.empty() ? "" : ": " + d.observation.why);
    if (observer) observer(d.observation);
  }
};

Dhcp6Server::Dhcp6Server(boost::asio::io_context& io, const ConfigSource& config, dhcp::BootPolicy policy,
                         Dhcp6Observer observer, Dhcp6ServerOptions options)
    : impl_(std::make_unique<Impl>(io, config, std::move(policy), std::move(observer), options)) {}

Dhcp6Server::~Dhcp6Server() { Stop(); }

Status Dhcp6Server::Start() {
  const auto cfg = impl_->config.Current();
  const std::string& ifname = cfg->server.interface;
  if (!ifname.empty()) {
    impl_->ifindex = if_nametoindex(ifname.c_str());
    if (impl_->ifindex == 0) return {ErrorCode::kUnavailable, "no interface " + ifname};
  }
  boost::system::error_code ec;
  auto& s = impl_->socket;
  s.open(udp::v6(), ec);
  if (ec) return {ErrorCode::kUnavailable, "dhcp6: socket: " + ec.message()};
  impl_->responder =
      std::make_unique<Dhcp6Responder>(cfg, impl_->policy, DuidLl(InterfaceMac6(s.native_handle(), ifname)));
  if (!ec) s.set_option(boost::asio::ip::v6_only(true), ec);
  if (!ec) s.set_option(udp::socket::reuse_address(true), ec);
  if (!ec && !ifname.empty() &&
      setsockopt(s.native_handle(), SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(),
                 static_cast<socklen_t>(ifname.size())) != 0)
    return {ErrorCode::kUnavailable, "dhcp6: SO_BINDTODEVICE " + ifname + ": " + std::strerror(errno)};
  if (!ec) s.bind(udp::endpoint(boost::asio::ip::address_v6::any(), impl_->options.port), ec);
  if (!ec) {
    const auto group = boost::asio::ip::make_address_v6(std::string(kAllServersAndRelays));
    s.set_option(boost::asio::ip::multicast::join_group(group, impl_->ifindex), ec);
  }
  if (ec) return {ErrorCode::kUnavailable, "dhcp6: UDP [::]:" + std::to_string(impl_->options.port) + ": " + ec.message()};
  spdlog::info("dhcp6: {} mode on {} port {} (leases in memory), server DUID {}", DhcpModeName(cfg->dhcp6.mode),
               ifname.empty() ? "every interface" : ifname, impl_->options.port,
               dhcp::HexString(impl_->responder->server_duid()));
  impl_->Receive();
  return Status::Ok();
}

void Dhcp6Server::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  boost::system::error_code ec;
  impl_->socket.close(ec);
}

std::size_t Dhcp6Server::bindings() const { return impl_->bindings.load(std::memory_order_relaxed); }

Dhcp6Server::Stats Dhcp6Server::stats() const {
  Stats s;
  const auto get = [](const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  for (std::size_t i = 0; i < Stats::kTypes; ++i) {
    s.received_by_type[i] = get(impl_->received_by_type[i]);
    s.sent_by_type[i] = get(impl_->sent_by_type[i]);
  }
  s.received = get(impl_->received);
  s.malformed = get(impl_->malformed);
  s.not_link_local = get(impl_->not_link_local);
  s.unanswered = get(impl_->unanswered);
  s.send_failed = get(impl_->send_failed);
  s.replied = get(impl_->replied);
  s.bindings = get(impl_->bindings);
  return s;
}

std::vector<std::uint8_t> Dhcp6Server::server_duid() const {
  return impl_->responder ? impl_->responder->server_duid() : std::vector<std::uint8_t>{};
}

}  // namespace metalpxe::dhcp6
