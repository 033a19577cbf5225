#include "api/kmsg_log_receiver.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <array>
#include <map>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/connection_limiter.h"
#include "core/fd_limit.h"
#include "core/log.h"
#include "core/redaction.h"

namespace metalpxe {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

class KmsgSession;

struct KmsgLogReceiver::Shared {
  Shared(asio::io_context& io, KmsgLogReceiverOptions opts, KeyResolver res)
      : options(std::move(opts)),
        store(options.store),
        resolver(std::move(res)),
        acceptor(io),
        limiter(ConnectionLimits{options.max_connections, options.per_client_connections}) {}

  KmsgLogReceiverOptions options;
  KmsgLogStore store;
  KeyResolver resolver;
  tcp::acceptor acceptor;
  // Touched only on the io_context's thread.
  bool stopped = false;
  std::uint64_t next_session = 1;
  std::map<std::uint64_t, std::weak_ptr<KmsgSession>> sessions;
  ConnectionLimiter limiter;
  Clock::time_point last_refusal_warning{};

  std::atomic<std::uint64_t> connections{0}, rejected{0}, evicted{0}, silent{0}, lines{0}, malformed{0}, overlong{0};
};

class KmsgSession : public std::enable_shared_from_this<KmsgSession> {
 public:
  KmsgSession(tcp::socket socket, std::shared_ptr<KmsgLogReceiver::Shared> shared, IpAddress peer, std::string key,
              KmsgKeyKind kind, std::uint64_t id)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        shared_(std::move(shared)),
        peer_(peer),
        key_(std::move(key)),
        kind_(kind),
        id_(id),
        framer_(shared_->options.max_line_bytes) {}

  void Start() {
    timer_.expires_after(shared_->options.silent_timeout);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->spoke_) return;
      self->shared_->silent.fetch_add(1, std::memory_order_relaxed);
      self->Close();
    });
    Read();
  }
  void Close() {
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
  }
  // Closed for a newer connection from the same address: its slot is given
  // back now, so the newcomer is admitted before this one's handler runs.
  void Evict() {
    ReleaseSlot();
    shared_->evicted.fetch_add(1, std::memory_order_relaxed);
    Close();
  }
  const IpAddress& peer() const { return peer_; }
  Clock::time_point last_activity() const { return last_activity_; }

 private:
  void ReleaseSlot() {
    if (released_) return;
    released_ = true;
    shared_->limiter.Release(peer_);
  }

  void Read() {
    socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                           std::size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(const boost::system::error_code& ec, std::size_t n) {
    std::vector<KmsgLogStore::Entry> batch;
    auto on_line = [&](std::string_view line) { Accept(line, batch); };
    if (n > 0) {
      last_activity_ = Clock::now();
      framer_.Feed(std::string_view(buf_.data(), n), on_line,
                   [&] { shared_->overlong.fetch_add(1, std::memory_order_relaxed); });
    }
    if (ec) framer_.Finish(on_line);
    if (!batch.empty()) {
      if (!spoke_) timer_.cancel();
      spoke_ = true;
      shared_->store.Append(key_, std::move(batch), kind_);
    }
    if (ec) {
      timer_.cancel();
      ReleaseSlot();
      shared_->sessions.erase(id_);
      return;  // EOF, reset or closed by Stop(): the last reference goes away
    }
    Read();
  }

  void Accept(std::string_view line, std::vector<KmsgLogStore::Entry>& batch) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return;  // keep-alive blank lines are not errors
    // The kernel's "Command line:" record carries talos.config=…/config/<token>.
    const std::string safe = RedactConfigTokens(line);
    line = safe;
    auto parsed = ParseKmsgLine(line);
    if (!parsed.ok()) {
      shared_->malformed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    shared_->lines.fetch_add(1, std::memory_order_relaxed);
    if (shared_->options.line_observer) shared_->options.line_observer(peer_, *parsed);
    batch.push_back({std::move(parsed).value(), std::string(line)});
  }

  tcp::socket socket_;
  asio::steady_timer timer_;  // silent_timeout, until the first line
  std::shared_ptr<KmsgLogReceiver::Shared> shared_;
  IpAddress peer_;
  std::string key_;
  KmsgKeyKind kind_;
  std::uint64_t id_;
  LineFramer framer_;
  bool spoke_ = false;
  bool released_ = false;
  Clock::time_point last_activity_ = Clock::now();
  std::array<char, 16 * 1024> buf_{};
};

namespace {

// IPv4, IPv6, or IPv4-mapped IPv6 (which IpAddress holds as the IPv4 peer).
IpAddress PeerOf(const tcp::endpoint& ep) {
  const auto a = ep.address();
  if (a.is_v4()) return Ipv4Address{a.to_v4().to_uint()};
  Ipv6Address v6;
  const auto bytes = a.to_v6().to_bytes();
  std::copy(bytes.begin(), bytes.end(), v6.bytes.begin());
  return v6;
}

// Closes the connection of `peer` that has been quiet longest; false when it has none open.
bool EvictStalest(KmsgLogReceiver::Shared& shared, const IpAddress& peer) {
  std::shared_ptr<KmsgSession> stalest;
  for (auto& [id, weak] : shared.sessions) {
    auto s = weak.lock();
    if (!s || s->peer() != peer) continue;
    if (!stalest || s->last_activity() < stalest->last_activity()) stalest = s;
  }
  if (!stalest) return false;
  stalest->Evict();
  return true;
}

void SetKeepalive(tcp::socket& socket, std::chrono::seconds idle) {
  boost::system::error_code ignored;
  socket.set_option(asio::socket_base::keep_alive(true), ignored);
  const int fd = socket.native_handle();
  const int idle_s = static_cast<int>(idle.count()), interval_s = 10, probes = 3;
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof interval_s);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
}

// The server is full: say so at most every 10 s, not once per connection.
void NoteRefused(KmsgLogReceiver::Shared& shared, const std::string& why) {
  const auto n = shared.rejected.fetch_add(1, std::memory_order_relaxed) + 1;
  const auto now = Clock::now();
  if (now - shared.last_refusal_warning < std::chrono::seconds(10)) return;
  shared.last_refusal_warning = now;
  spdlog::warn("kmsg logs: closing new connections: {} ({} refused so far)", why, n);
}

// Admits a connection from `peer` (making room among its own connections if
// it is at its limit); false when the server is full.
bool Admit(KmsgLogReceiver::Shared& shared, const IpAddress& peer) {
  auto verdict = shared.limiter.Admit(peer);
  if (verdict == ConnectionLimiter::Verdict::kClientFull && EvictStalest(shared, peer))
    verdict = shared.limiter.Admit(peer);
  if (verdict == ConnectionLimiter::Verdict::kAdmit) return true;
  NoteRefused(shared, VerdictName(verdict));
  return false;
}

void StartSession(const std::shared_ptr<KmsgLogReceiver::Shared>& shared, tcp::socket socket, const IpAddress& peer) {
  std::string key;
  try {
    if (shared->resolver) key = shared->resolver(peer);
  } catch (const std::exception& e) {
    spdlog::warn("kmsg logs: key resolver failed for {}: {}", peer.ToString(), e.what());
  }
  const KmsgKeyKind kind = key.empty() ? KmsgKeyKind::kUnknownSender : KmsgKeyKind::kKnownMachine;
  if (key.empty()) key = peer.ToString();
  SetKeepalive(socket, shared->options.keepalive_idle);
  shared->connections.fetch_add(1, std::memory_order_relaxed);
  const auto id = shared->next_session++;
  auto session = std::make_shared<KmsgSession>(std::move(socket), shared, peer, std::move(key), kind, id);
  shared->sessions.emplace(id, session);
  session->Start();
}

void AcceptLoop(std::shared_ptr<KmsgLogReceiver::Shared> shared) {
  shared->acceptor.async_accept([shared](const boost::system::error_code& ec, tcp::socket socket) {
    if (shared->stopped || !shared->acceptor.is_open()) return;
    if (ec) {
      spdlog::debug("kmsg logs: accept: {}", ec.message());
      AcceptLoop(shared);
      return;
    }
    boost::system::error_code ep_ec;
    auto remote = socket.remote_endpoint(ep_ec);
    auto peer = ep_ec ? std::nullopt : std::optional<IpAddress>(PeerOf(remote));
    if (!peer) {
      shared->rejected.fetch_add(1, std::memory_order_relaxed);
    } else if (Admit(*shared, *peer)) {
      StartSession(shared, std::move(socket), *peer);
    }
    AcceptLoop(shared);  // a socket not handed on closes here
  });
}

}  // namespace

KmsgLogReceiver::KmsgLogReceiver(asio::io_context& io, KmsgLogReceiverOptions options, KeyResolver resolver)
    : io_(io), shared_(std::make_shared<Shared>(io, std::move(options), std::move(resolver))) {}

KmsgLogReceiver::~KmsgLogReceiver() { Stop(); }

Status KmsgLogReceiver::Start() {
  if (RaiseOpenFileLimit() < shared_->options.max_connections + 256)
    spdlog::warn("kmsg logs: the open-file limit is below {} connections", shared_->options.max_connections);
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(shared_->options.listen_address, ec);
  if (ec) return Status(ErrorCode::kInvalidArgument, "kmsg logs: bad listen address " + shared_->options.listen_address);
  tcp::endpoint ep(addr, shared_->options.port);
  auto& acc = shared_->acceptor;
  if (acc.open(ep.protocol(), ec); ec) return Status(ErrorCode::kUnavailable, "kmsg logs: open: " + ec.message());
  acc.set_option(tcp::acceptor::reuse_address(true), ec);
  // "::" takes IPv4 senders too, whatever net.ipv6.bindv6only says.
  if (addr.is_v6()) acc.set_option(asio::ip::v6_only(false), ec);
  if (acc.bind(ep, ec); ec) {
    acc.close(ec);
    return Status(ErrorCode::kUnavailable,
                  "kmsg logs: cannot listen on " + shared_->options.listen_address + ":" +
                      std::to_string(shared_->options.port) + ": " + ec.message());
  }
  if (acc.listen(asio::socket_base::max_listen_connections, ec); ec) {
    acc.close(ec);
    return Status(ErrorCode::kUnavailable, "kmsg logs: listen: " + ec.message());
  }
  port_ = acc.local_endpoint().port();
  asio::post(io_, [shared = shared_] { AcceptLoop(shared); });
  spdlog::info("kmsg log receiver listening on {}:{}", shared_->options.listen_address, port_);
  return Status::Ok();
}

void KmsgLogReceiver::Stop() {
  asio::post(io_, [shared = shared_] {
    if (shared->stopped) return;
    shared->stopped = true;
    boost::system::error_code ignored;
    shared->acceptor.close(ignored);
    for (auto& [id, weak] : shared->sessions)
      if (auto s = weak.lock()) s->Close();
  });
}

std::vector<KmsgLine> KmsgLogReceiver::Tail(const std::string& key, std::size_t n) const {
  return shared_->store.Tail(key, n);
}

KmsgLogStore::SubscriptionId KmsgLogReceiver::Subscribe(const std::string& key, KmsgLogStore::Follower follower) {
  return shared_->store.Subscribe(key, std::move(follower));
}

void KmsgLogReceiver::Unsubscribe(KmsgLogStore::SubscriptionId id) { shared_->store.Unsubscribe(id); }

KmsgLogStore& KmsgLogReceiver::store() { return shared_->store; }

KmsgReceiverCounters KmsgLogReceiver::counters() const {
  KmsgReceiverCounters c;
  c.connections = shared_->connections.load(std::memory_order_relaxed);
  c.rejected_connections = shared_->rejected.load(std::memory_order_relaxed);
  c.evicted_connections = shared_->evicted.load(std::memory_order_relaxed);
  c.silent_closed = shared_->silent.load(std::memory_order_relaxed);
  c.lines = shared_->lines.load(std::memory_order_relaxed);
  c.malformed = shared_->malformed.load(std::memory_order_relaxed);
  c.overlong = shared_->overlong.load(std::memory_order_relaxed);
  return c;
}

}  // namespace metalpxe
