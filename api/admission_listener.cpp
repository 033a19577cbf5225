#include "api/admission_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#include "core/log.h"

namespace metalpxe {

namespace {

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::uint64_t InodeOf(int fd) {
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return 0;
  return static_cast<std::uint64_t>(st.st_ino);
}

}  // namespace

AdmissionListener::AdmissionListener(ConnectionLimits limits, Handoff handoff)
    : limiter_(limits), handoff_(std::move(handoff)) {}

AdmissionListener::~AdmissionListener() { Stop(); }

namespace {

// The socket address of `address`:`port`, IPv4 or IPv6.
std::optional<sockaddr_storage> SocketAddress(const std::string& address, std::uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
    return ss;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
    return ss;
  }
  return std::nullopt;
}

// The peer of an accepted socket; nullopt for a family we do not serve.
std::optional<IpAddress> PeerOf(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET)
    return IpAddress(Ipv4Address{ntohl(reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr.s_addr)});
  if (ss.ss_family == AF_INET6) {
    Ipv6Address a;
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, 16);
    return IpAddress(a);
  }
  return std::nullopt;
}

}  // namespace

Status AdmissionListener::Start(const std::string& address, std::uint16_t port) {
  if (thread_.joinable()) return {ErrorCode::kFailedPrecondition, "already listening"};
  socklen_t addr_len = 0;
  auto addr = SocketAddress(address, port, addr_len);
  if (!addr) return {ErrorCode::kInvalidArgument, "not an IP address: " + address};
  UniqueFd fd(::socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  const int one = 1, zero = 0;
  // SO_REUSEADDR only: a restart finds the port despite TIME_WAIT, while a
  // second daemon cannot share it (no SO_REUSEPORT). IPv6 takes IPv4 too,
  // whatever net.ipv6.bindv6only says.
  if (!fd.valid() || ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      (addr->ss_family == AF_INET6 && ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0) ||
      ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), addr_len) != 0 ||
      ::listen(fd.get(), SOMAXCONN) != 0)
    return {ErrorCode::kUnavailable, "cannot listen on " + address + ":" + std::to_string(port) + ": " +
                                         std::strerror(errno)};
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  wake_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_.valid()) return {ErrorCode::kInternal, std::string("eventfd: ") + std::strerror(errno)};
  listener_ = std::move(fd);
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void AdmissionListener::Stop() {
  if (!thread_.joinable()) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
  thread_.join();
  listener_.Reset();
}

void AdmissionListener::Run() {
  pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
  while (true) {
    const int r = ::poll(fds, 2, 1000);
    if (fds[1].revents != 0) return;
    if (r == 0 || NowMs() - last_full_reconcile_ms_ >= 1000) ReconcileAll();
    if (r <= 0 || (fds[0].revents & POLLIN) == 0) continue;
    // Drain the backlog, a bounded batch at a time so Stop() stays prompt.
    for (int i = 0; i < 256; ++i) {
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      UniqueFd fd(::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!fd.valid()) {
        if (errno == EMFILE || errno == ENFILE)
          spdlog::warn("event sink: accept: {} (open-file limit reached)", std::strerror(errno));
        break;
      }
      const auto from = PeerOf(peer);
      if (!from) continue;
      OnAccept(std::move(fd), *from);
    }
  }
}

void AdmissionListener::OnAccept(UniqueFd fd, const IpAddress& peer) {
  auto verdict = limiter_.Admit(peer);
  if (verdict == ConnectionLimiter::Verdict::kClientFull) {
    Reconcile(peer);
    verdict = limiter_.Admit(peer);
  } else if (verdict == ConnectionLimiter::Verdict::kServerFull && NowMs() - last_full_reconcile_ms_ >= 50) {
    ReconcileAll();
    verdict = limiter_.Admit(peer);
  }
  if (verdict != ConnectionLimiter::Verdict::kAdmit) {
    auto& counter = verdict == ConnectionLimiter::Verdict::kClientFull ? n_client_full_ : n_server_full_;
    const auto refused = counter.fetch_add(1, std::memory_order_relaxed) + 1;
    if (NowMs() - last_refusal_warning_ms_ >= 10'000) {
      last_refusal_warning_ms_ = NowMs();
      spdlog::warn("event sink: closing new connections from {}: {} ({} so far)", peer.ToString(),
                   VerdictName(verdict), refused);
    }
    return;  // fd closes here
  }
  admitted_[peer].push_back({fd.get(), InodeOf(fd.get())});
  n_admitted_.fetch_add(1, std::memory_order_relaxed);
  n_open_.store(limiter_.total(), std::memory_order_relaxed);
  handoff_(fd.Release(), listener_.get());
}

void AdmissionListener::Reconcile(const IpAddress& peer) {
  auto it = admitted_.find(peer);
  if (it == admitted_.end()) return;
  auto& list = it->second;
  for (std::size_t i = 0; i < list.size();) {
    if (InodeOf(list[i].fd) == list[i].inode) {
      ++i;
      continue;
    }
    limiter_.Release(peer);
    list[i] = list.back();
    list.pop_back();
  }
  if (list.empty()) admitted_.erase(it);
  n_open_.store(limiter_.total(), std::memory_order_relaxed);
}

void AdmissionListener::ReconcileAll() {
  last_full_reconcile_ms_ = NowMs();
  std::vector<IpAddress> peers;
  peers.reserve(admitted_.size());
  for (const auto& [ip, _] : admitted_) peers.push_back(ip);
  for (const auto& ip : peers) Reconcile(ip);
}

AdmissionCounters AdmissionListener::counters() const {
  AdmissionCounters c;
  c.admitted = n_admitted_.load(std::memory_order_relaxed);
  c.refused_client_full = n_client_full_.load(std::memory_order_relaxed);
  c.refused_server_full = n_server_full_.load(std::memory_order_relaxed);
  c.open = n_open_.load(std::memory_order_relaxed);
  return c;
}

}  // namespace metalpxe
