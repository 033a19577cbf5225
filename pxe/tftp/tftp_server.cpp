#include "pxe/tftp/tftp_server.h"

#include <algorithm>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "pxe/tftp/tftp_negotiation.h"
#include "pxe/tftp/tftp_packet.h"
#include "pxe/tftp/tftp_transfer.h"

namespace metalpxe::tftp {
namespace {

constexpr int kMaxRequestsPerWakeup = 64;  // then yield to transfers' ACKs

// File names come from the network: keep logs to one printable line.
std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 200)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

std::string Describe(const boost::asio::ip::udp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

// The peer for the timeline: IPv4, or IPv6 (the machine is known by its DHCPv6 lease).
IpAddress TftpPeer(const boost::asio::ip::udp::endpoint& ep) {
  if (ep.address().is_v4()) return Ipv4Address{ep.address().to_v4().to_uint()};
  Ipv6Address a;
  const auto bytes = ep.address().to_v6().to_bytes();
  std::copy(bytes.begin(), bytes.end(), a.bytes.begin());
  return a;
}

// The virtual-files hook is asked by IPv4 address; an IPv6 peer has none.
Ipv4Address TftpPeerV4(const boost::asio::ip::udp::endpoint& ep) {
  return ep.address().is_v4() ? Ipv4Address{ep.address().to_v4().to_uint()} : Ipv4Address{};
}

Status BindToDevice(int fd, const std::string& interface) {
  if (interface.empty()) return Status::Ok();
  if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, interface.data(), static_cast<socklen_t>(interface.size())) != 0)
    return {ErrorCode::kUnavailable, "SO_BINDTODEVICE " + interface + ": " + std::strerror(errno)};
  return Status::Ok();
}

}  // namespace

TftpServer::TftpServer(boost::asio::io_context& io, TftpOptions options)
    : io_(io), options_(std::move(options)), listener_(io), rx_(65536) {}

TftpServer::~TftpServer() {
  Stop();
  alive_.reset();
}

Status TftpServer::Start() {
  auto root = TftpRoot::Open(options_.root);
  if (!root.ok()) return root.status();
  root_.emplace(std::move(root).value());

  boost::system::error_code ec;
  udp::socket sock(io_);
  sock.open(options_.ipv6 ? udp::v6() : udp::v4(), ec);
  if (ec) return {ErrorCode::kUnavailable, "TFTP socket: " + ec.message()};
  sock.set_option(udp::socket::reuse_address(true), ec);
  if (options_.ipv6) sock.set_option(boost::asio::ip::v6_only(true), ec);
  const int on = 1;
  // IP_PKTINFO / IPV6_RECVPKTINFO tell which local address a request came
  // to: each transfer answers from that address, as the client expects, on a
  // wildcard listener.
  if (options_.ipv6 ? ::setsockopt(sock.native_handle(), IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) != 0
                    : ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_PKTINFO, &on, sizeof on) != 0)
    return {ErrorCode::kUnavailable, std::string("IP_PKTINFO: ") + std::strerror(errno)};
  if (auto st = BindToDevice(sock.native_handle(), options_.interface); !st.ok()) return st;
  const udp::endpoint bind_ep =
      options_.ipv6 ? udp::endpoint(boost::asio::ip::address_v6::any(), options_.port)
                    : udp::endpoint(boost::asio::ip::address_v4(options_.bind_address.value), options_.port);
  sock.bind(bind_ep, ec);
  if (ec) return {ErrorCode::kUnavailable, "TFTP bind " + Describe(bind_ep) + ": " + ec.message()};
  sock.non_blocking(true, ec);
  bound_port_ = sock.local_endpoint(ec).port();
  listener_ = std::move(sock);
  spdlog::info("tftp: serving {} on {}:{}{}", root_->path(), bind_ep.address().to_string(), bound_port_,
               options_.interface.empty() ? "" : " (" + options_.interface + ")");
  WaitForRequests();
  return Status::Ok();
}

void TftpServer::Stop() {
  boost::system::error_code ec;
  listener_.close(ec);
  for (auto& [peer, active] : transfers_) active.transfer->Cancel("server shutting down");
  transfers_.clear();
  waiting_.clear();
}

TftpStats TftpServer::Stats() const { return counters_.Snapshot(); }

void TftpServer::WaitForRequests() {
  listener_.async_wait(udp::socket::wait_read,
                       [this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
                         if (alive.expired() || ec || !listener_.is_open()) return;
                         DrainRequests();
                         WaitForRequests();
                       });
}

void TftpServer::DrainRequests() {
  for (int i = 0; i < kMaxRequestsPerWakeup && listener_.is_open(); ++i) {
    sockaddr_storage from{};
    iovec iov{rx_.data(), rx_.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))];
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(listener_.native_handle(), &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN, or an error the next wakeup will show again
    }
    if (msg.msg_flags & MSG_TRUNC) continue;
    Request request;
    if (from.ss_family == AF_INET && !options_.ipv6) {
      const auto& sin = reinterpret_cast<const sockaddr_in&>(from);
      if (sin.sin_port == 0) continue;
      request.peer = udp::endpoint(boost::asio::ip::address_v4(ntohl(sin.sin_addr.s_addr)), ntohs(sin.sin_port));
      request.local = boost::asio::ip::address_v4(options_.bind_address.value);
    } else if (from.ss_family == AF_INET6 && options_.ipv6) {
      const auto& sin6 = reinterpret_cast<const sockaddr_in6&>(from);
      if (sin6.sin6_port == 0) continue;
      boost::asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), sin6.sin6_addr.s6_addr, 16);
      request.peer = udp::endpoint(boost::asio::ip::address_v6(b, sin6.sin6_scope_id), ntohs(sin6.sin6_port));
      request.local = boost::asio::ip::address_v6::any();
    } else {
      continue;
    }
    for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != nullptr; cm = CMSG_NXTHDR(&msg, cm)) {
      if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO && options_.bind_address.value == 0) {
        in_pktinfo info{};
        std::memcpy(&info, CMSG_DATA(cm), sizeof info);
        request.local = boost::asio::ip::address_v4(ntohl(info.ipi_spec_dst.s_addr));
      } else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo info{};
        std::memcpy(&info, CMSG_DATA(cm), sizeof info);
        boost::asio::ip::address_v6::bytes_type b;
        std::memcpy(b.data(), info.ipi6_addr.s6_addr, 16);
        boost::asio::ip::address_v6 local(b);
        // A link-local address answers on the interface it came in on.
        if (local.is_link_local()) local.scope_id(info.ipi6_ifindex);
        request.local = local;
      }
    }
    request.bytes.assign(rx_.begin(), rx_.begin() + n);
    HandleRequest(std::move(request));
    // A request that replaced a running transfer and was then refused freed
    // a slot no transfer's end will report.
    if (!waiting_.empty() && transfers_.size() < options_.max_transfers) StartWaiting();
  }
}

void TftpServer::HandleRequest(Request request) {
  auto parsed = ParsePacket(request.bytes);
  if (!parsed.ok()) return;  // garbage gets no answer: no reflection off port 69
  const auto* req = std::get_if<RequestPacket>(&*parsed);
  if (req == nullptr) return;
  if (req->opcode == Opcode::kWrq) {
    Refuse(request, TftpError::kAccessViolation, "read-only server");
    return;
  }
  if (auto it = transfers_.find(request.peer); it != transfers_.end()) {
    // The same request again before anything was acknowledged: the client
    // retransmitted its RRQ; the running transfer answers it.
    if (it->second.request == request.bytes && it->second.transfer->AwaitingFirstAck()) return;
    // A new request from the same port replaces the old transfer, silently:
    // an ERROR from the old TID could be taken as the answer to the new RRQ.
    it->second.transfer->Cancel("");
    transfers_.erase(it);
  }
  if (req->mode != "octet") {
    // netascii would need line-ending translation and breaks block offsets;
    // boot loaders all ask for octet.
    Refuse(request, TftpError::kIllegalOperation, "only octet mode is supported", req->filename);
    return;
  }
  if (transfers_.size() >= options_.max_transfers) {
    // An ERROR here would end the client's boot (PXE firmware does not retry
    // a refused file): the request waits for a slot instead.
    Wait(std::move(request));
    return;
  }
  auto requested = ReadRequestedOptions(req->options);
  if (!requested.ok()) {
    Refuse(request, TftpError::kOptionNegotiation, requested.status().message(), req->filename);
    return;
  }
  std::optional<Result<OpenedFile>> virtual_file;
  if (options_.virtual_files)
    virtual_file = options_.virtual_files(req->filename, TftpPeerV4(request.peer));
  auto file = virtual_file ? std::move(*virtual_file) : root_->OpenForRead(req->filename);
  if (!file.ok()) {
    if (file.status().code() == ErrorCode::kNotFound) {
      Refuse(request, TftpError::kFileNotFound, "file not found", req->filename);
    } else {
      spdlog::warn("tftp: {} asked for '{}': refused ({})", Describe(request.peer), Printable(req->filename),
                   file.status().message());
      Refuse(request, TftpError::kAccessViolation, "access violation", req->filename);
    }
    return;
  }
  const NegotiationLimits limits{options_.max_block_size, options_.max_window_size};
  NegotiatedOptions negotiated = Negotiate(*requested, limits, file->size);
  auto socket = OpenTransferSocket(request);
  if (!socket.ok()) {
    spdlog::warn("tftp: cannot open a transfer socket for {}: {}", Describe(request.peer),
                 socket.status().message());
    Refuse(request, TftpError::kNotDefined, "server error", req->filename);
    return;
  }
  spdlog::debug("tftp: {} reads '{}' ({} bytes, blksize {}, windowsize {})", Describe(request.peer),
                Printable(req->filename), file->size, negotiated.block_size, negotiated.window_size);
  TftpTransferReport report;
  report.file = Printable(req->filename);
  report.size = file->size;
  report.block_size = negotiated.block_size;
  report.window_size = negotiated.window_size;
  auto transfer = std::make_shared<TftpTransfer>(
      std::move(socket).value(), std::move(file).value(), std::move(negotiated), options_, counters_,
      [this, alive = std::weak_ptr<bool>(alive_), report = std::move(report)](const udp::endpoint& peer,
                                                                            const TftpTransfer::Outcome& o) mutable {
        if (alive.expired()) return;
        transfers_.erase(peer);
        if (!waiting_.empty()) {
          // Not from inside the ending transfer's own handler.
          boost::asio::post(io_, [this, alive] {
            if (!alive.expired()) StartWaiting();
          });
        }
        if (!options_.observer) return;
        report.peer = TftpPeer(peer);
        report.ok = o.ok;
        report.error = o.error;
        report.retransmits = o.retransmits;
        report.duration = o.duration;
        options_.observer(report);
      });
  transfers_[request.peer] = Active{transfer, std::move(request.bytes)};
  transfer->Start();
}

void TftpServer::Wait(Request request) {
  const auto now = std::chrono::steady_clock::now();
  for (Waiting& w : waiting_) {
    if (w.request.peer != request.peer) continue;
    // The client retransmitted (or asked anew from the same port): keep its
    // place, take the newest request.
    w.request = std::move(request);
    w.since = now;
    return;
  }
  if (waiting_.size() >= options_.max_waiting) {
    counters_.requests_dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  counters_.requests_waited.fetch_add(1, std::memory_order_relaxed);
  spdlog::debug("tftp: {} waits for a transfer slot ({} running, {} waiting)", Describe(request.peer),
                transfers_.size(), waiting_.size());
  waiting_.push_back({std::move(request), now});
}

void TftpServer::StartWaiting() {
  const auto now = std::chrono::steady_clock::now();
  while (!waiting_.empty() && transfers_.size() < options_.max_transfers && listener_.is_open()) {
    Waiting w = std::move(waiting_.front());
    waiting_.pop_front();
    if (now - w.since > options_.max_retransmit_timeout) {
      counters_.requests_dropped.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    HandleRequest(std::move(w.request));
  }
}

Result<boost::asio::ip::udp::socket> TftpServer::OpenTransferSocket(const Request& request) {
  boost::system::error_code ec;
  udp::socket sock(io_);
  sock.open(request.local.is_v6() ? udp::v6() : udp::v4(), ec);
  if (ec) return Status(ErrorCode::kUnavailable, "socket: " + ec.message());
  if (auto st = BindToDevice(sock.native_handle(), options_.interface); !st.ok()) return st;
  sock.bind(udp::endpoint(request.local, 0), ec);
  if (ec) return Status(ErrorCode::kUnavailable, "bind " + request.local.to_string() + ": " + ec.message());
  sock.connect(request.peer, ec);
  if (ec) return Status(ErrorCode::kUnavailable, "connect " + Describe(request.peer) + ": " + ec.message());
  return sock;
}

void TftpServer::Refuse(const Request& request, TftpError code, std::string_view message, std::string_view file) {
  counters_.requests_refused.fetch_add(1, std::memory_order_relaxed);
  if (options_.observer && !file.empty()) {
    TftpTransferReport report;
    report.peer = TftpPeer(request.peer);
    report.file = Printable(file);
    report.error = std::string(message);
    options_.observer(report);
  }
  spdlog::debug("tftp: refused {}: ERROR {} {}", Describe(request.peer), static_cast<int>(code), message);
  const auto packet = EncodeError(code, message);
  // From a fresh port, like a transfer would (RFC 1350: a reply comes from
  // the server's new TID); from the listener if no socket can be had.
  auto sock = OpenTransferSocket(request);
  const int fd = sock.ok() ? sock->native_handle() : listener_.native_handle();
  if (sock.ok()) {
    ::send(fd, packet.data(), packet.size(), MSG_DONTWAIT);
  } else {
    ::sendto(fd, packet.data(), packet.size(), MSG_DONTWAIT, request.peer.data(),
             static_cast<socklen_t>(request.peer.size()));
  }
}

}  // namespace metalpxe::tftp
