#include "api/kmsg_log_receiver.h"

#include "core/redaction.h"

#include <array>
#include <map>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include "core/log.h"

namespace metalpxe {

namespace asio = boost::asio;
using asio::ip::tcp;

class KmsgSession;

struct KmsgLogReceiver::Shared {
  Shared(asio::io_context& io, KmsgLogReceiverOptions opts, KeyResolver res)
      : options(std::move(opts)), store(options.store), resolver(std::move(res)), acceptor(io) {}

  KmsgLogReceiverOptions options;
  KmsgLogStore store;
  KeyResolver resolver;
  tcp::acceptor acceptor;
  // Touched only on the io_context's thread.
  bool stopped = false;
  std::uint64_t next_session = 1;
  std::map<std::uint64_t, std::weak_ptr<KmsgSession>> sessions;

  std::atomic<std::uint64_t> connections{0}, rejected{0}, lines{0}, malformed{0}, overlong{0};
};

class KmsgSession : public std::enable_shared_from_this<KmsgSession> {
 public:
  KmsgSession(tcp::socket socket, std::shared_ptr<KmsgLogReceiver::Shared> shared, std::string key, std::uint64_t id)
      : socket_(std::move(socket)),
        shared_(std::move(shared)),
        key_(std::move(key)),
        id_(id),
        framer_(shared_->options.max_line_bytes) {}

  void Read() {
    socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                           std::size_t n) { self->OnRead(ec, n); });
  }
  void Close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  void OnRead(const boost::system::error_code& ec, std::size_t n) {
    std::vector<KmsgLogStore::Entry> batch;
    auto on_line = [&](std::string_view line) { Accept(line, batch); };
    if (n > 0) {
      framer_.Feed(std::string_view(buf_.data(), n), on_line,
                   [&] { shared_->overlong.fetch_add(1, std::memory_order_relaxed); });
    }
    if (ec) framer_.Finish(on_line);
    if (!batch.empty()) shared_->store.Append(key_, std::move(batch));
    if (ec) {
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
    batch.push_back({std::move(parsed).value(), std::string(line)});
  }

  tcp::socket socket_;
  std::shared_ptr<KmsgLogReceiver::Shared> shared_;
  std::string key_;
  std::uint64_t id_;
  LineFramer framer_;
  std::array<char, 16 * 1024> buf_{};
};

namespace {

std::optional<Ipv4Address> PeerIpv4(const tcp::endpoint& ep) {
  auto a = ep.address();
  if (a.is_v4()) return Ipv4Address{a.to_v4().to_uint()};
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return Ipv4Address{asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_uint()};
  }
  return std::nullopt;
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
    auto peer = ep_ec ? std::nullopt : PeerIpv4(remote);
    if (!peer || shared->sessions.size() >= shared->options.max_connections) {
      shared->rejected.fetch_add(1, std::memory_order_relaxed);
      AcceptLoop(shared);
      return;  // socket closes here
    }
    std::string key;
    try {
      if (shared->resolver) key = shared->resolver(*peer);
    } catch (const std::exception& e) {
      spdlog::warn("kmsg logs: key resolver failed for {}: {}", peer->ToString(), e.what());
    }
    if (key.empty()) key = peer->ToString();
    shared->connections.fetch_add(1, std::memory_order_relaxed);
    const auto id = shared->next_session++;
    auto session = std::make_shared<KmsgSession>(std::move(socket), shared, std::move(key), id);
    shared->sessions.emplace(id, session);
    session->Read();
    AcceptLoop(shared);
  });
}

}  // namespace

KmsgLogReceiver::KmsgLogReceiver(asio::io_context& io, KmsgLogReceiverOptions options, KeyResolver resolver)
    : io_(io), shared_(std::make_shared<Shared>(io, std::move(options), std::move(resolver))) {}

KmsgLogReceiver::~KmsgLogReceiver() { Stop(); }

Status KmsgLogReceiver::Start() {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address_v4(shared_->options.listen_address, ec);
  if (ec) return Status(ErrorCode::kInvalidArgument, "kmsg logs: bad listen address " + shared_->options.listen_address);
  tcp::endpoint ep(addr, shared_->options.port);
  auto& acc = shared_->acceptor;
  if (acc.open(ep.protocol(), ec); ec) return Status(ErrorCode::kUnavailable, "kmsg logs: open: " + ec.message());
  acc.set_option(tcp::acceptor::reuse_address(true), ec);
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
  c.lines = shared_->lines.load(std::memory_order_relaxed);
  c.malformed = shared_->malformed.load(std::memory_order_relaxed);
  c.overlong = shared_->overlong.load(std::memory_order_relaxed);
  return c;
}

}  // namespace metalpxe
