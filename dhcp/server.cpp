#include "dhcp/server.h"

#include <array>
#include <atomic>
#include <chrono>
#include <mutex>

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>

#include "core/log.h"
#include "dhcp/responder.h"
#include "dhcp/socket_io.h"

namespace metalpxe::dhcp {
namespace {

using boost::asio::ip::udp;

std::int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The client's option 57 bounds the reply (IP + UDP headers are 28 bytes);
// never past an Ethernet MTU, never under the RFC 2131 minimum.
std::size_t MaxReplySize(const DhcpMessage& req) {
  const std::size_t asked = req.GetU16(opt::kMaxMessageSize).value_or(576);
  return std::clamp<std::size_t>(asked, 576, 1500) - 28;
}

}  // namespace

struct DhcpServer::Impl : std::enable_shared_from_this<Impl> {
  struct Listener {
    udp::socket socket;
    bool boot_server_port;
  };
  struct Pending {  // a reply and where it goes
    std::size_t listener = 0;
    OutgoingDatagram datagram;
    std::optional<DhcpObservation> granted;  // observed once the ACK leaves
    MessageType type = MessageType::kOffer;
    std::chrono::steady_clock::time_point received;  // the request's arrival
  };
  // The reply types a server sends; a latency histogram each.
  static constexpr std::array kReplyTypes = {MessageType::kOffer, MessageType::kAck, MessageType::kNak};
  std::array<LatencyHistogram, kReplyTypes.size()> reply_latency{
      LatencyHistogram(DhcpLatencyBounds()), LatencyHistogram(DhcpLatencyBounds()),
      LatencyHistogram(DhcpLatencyBounds())};

  Impl(boost::asio::io_context& io, const ConfigSource& config, Store& store, DhcpObserver observer,
       BootPolicy policy)
      : io(io), config(config), store(store), observer(std::move(observer)), policy(std::move(policy)) {}

  boost::asio::io_context& io;
  const ConfigSource& config;
  Store& store;
  DhcpObserver observer;
  BootPolicy policy;

  mutable std::mutex mu;  // everything below, except the durable queue
  std::unique_ptr<DhcpResponder> responder;
  std::vector<std::unique_ptr<Listener>> listeners;
  std::vector<Pending> outbox;
  DhcpStats stats;
  bool stopped = false;

  std::mutex durable_mu;  // replies whose leases became durable, not yet sent
  std::vector<Pending> durable_ready;
  bool drain_posted = false;

  void ArmRead(std::size_t li) {
    std::weak_ptr<Impl> weak = shared_from_this();
    listeners[li]->socket.async_wait(udp::socket::wait_read, [weak, li](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      std::lock_guard lock(self->mu);
      if (self->stopped) return;
      self->ReadBatches(li);
      self->ArmRead(li);
    });
  }

  void ReadBatches(std::size_t li) {
    std::vector<Datagram> batch;
    const int fd = listeners[li]->socket.native_handle();
    // A bounded number of batches per wake-up keeps the other socket and the
    // durable ACKs from starving under a flood.
    for (int round = 0; round < 16; ++round) {
      const int n = ReceiveBatch(fd, 64, batch);
      for (const auto& d : batch) HandleDatagram(li, d);
      if (n < 64) break;
    }
    Flush();
  }

  void HandleDatagram(std::size_t li, const Datagram& d) {
    const auto received = std::chrono::steady_clock::now();
    if (d.truncated) {
      ++stats.dropped_malformed;
      return;
    }
    auto parsed = ParseDhcpMessage(d.bytes);
    if (!parsed) {
      ++stats.dropped_malformed;
      SPDLOG_DEBUG("dhcp: dropped malformed packet from {}: {}", d.peer.ToString(), parsed.status().message());
      return;
    }
    Inbound in;
    in.msg = std::move(parsed).value();
    in.source = d.peer;
    in.source_port = d.peer_port;
    in.ifindex = d.ifindex;
    if (!d.local.IsUnspecified()) in.local_addresses.push_back(d.local);
    in.boot_server_port = listeners[li]->boot_server_port;
    if (auto t = in.msg.Type()) ++stats.received[static_cast<std::size_t>(*t)];

    responder->UpdateConfig(config.Current());
    Decision decision = responder->Handle(in, NowUnix());
    stats.leases = responder->leases().size();
    if (decision.observation && observer) observer(*decision.observation);
    switch (decision.verdict) {
      case Verdict::kIgnored: ++stats.dropped_ignored; return;
      case Verdict::kNoPool: ++stats.dropped_no_pool; return;
      case Verdict::kNoReply:
      case Verdict::kReply: break;
    }

    std::optional<Pending> reply;
    if (decision.reply) {
      auto& out = *decision.reply;
      auto bytes = SerializeDhcpMessage(out.msg, MaxReplySize(in.msg));
      if (!bytes) {
        SPDLOG_WARN("dhcp: cannot encode reply for {}: {}", in.msg.Mac().ToString(), bytes.status().message());
        return;
      }
      Pending p;
      p.listener = li;
      p.type = *out.msg.Type();
      p.received = received;
      p.datagram.bytes = std::move(bytes).value();
      p.datagram.dest = out.dest;
      p.datagram.port = out.port;
      p.datagram.ifindex = out.ifindex;
      p.datagram.set_arp = out.to_unconfigured_client;
      p.datagram.mac = out.msg.Mac();
      if (p.type == MessageType::kAck && !out.msg.yiaddr.IsUnspecified() && decision.observation) {
        p.granted = *decision.observation;
        p.granted->leased_ip = out.msg.yiaddr;
        p.granted->message_type = MessageType::kAck;
      }
      reply = std::move(p);
    }
    if (decision.writes.empty()) {
      if (reply) outbox.push_back(std::move(*reply));
      return;
    }
    // The reply leaves once every write is durable; any failure withholds it
    // (the client retries, and no address is promised that a crash could lose).
    struct Join {
      std::atomic<int> left;
      std::atomic<bool> failed{false};
      std::optional<Pending> reply;
    };
    auto join = std::make_shared<Join>();
    join->left = static_cast<int>(decision.writes.size());
    join->reply = std::move(reply);
    std::weak_ptr<Impl> weak = shared_from_this();
    for (const auto& w : decision.writes) {
      store.PutLease(w, [weak, join](const Status& s) {
        if (!s.ok()) join->failed = true;
        if (--join->left != 0) return;
        auto self = weak.lock();
        if (!self) return;
        self->Durable(join->failed ? std::nullopt : std::move(join->reply), join->failed);
      });
    }
  }

  // Store writer thread: queue the reply and wake the io_context once per batch.
  void Durable(std::optional<Pending> reply, bool failed) {
    std::lock_guard lock(durable_mu);
    if (failed) ++failures_from_store;
    if (reply) durable_ready.push_back(std::move(*reply));
    if (drain_posted) return;
    drain_posted = true;
    std::weak_ptr<Impl> weak = shared_from_this();
    boost::asio::post(io, [weak] {
      if (auto self = weak.lock()) self->DrainDurable();
    });
  }
  std::uint64_t failures_from_store = 0;  // guarded by durable_mu

  void DrainDurable() {
    std::vector<Pending> ready;
    std::uint64_t failures = 0;
    {
      std::lock_guard lock(durable_mu);
      ready.swap(durable_ready);
      failures = failures_from_store;
      failures_from_store = 0;
      drain_posted = false;
    }
    std::lock_guard lock(mu);
    stats.store_failures += failures;
    if (stopped) return;
    for (auto& p : ready) outbox.push_back(std::move(p));
    Flush();
  }

  void Flush() {
    if (outbox.empty()) return;
    for (std::size_t li = 0; li < listeners.size(); ++li) {
      std::vector<OutgoingDatagram> batch;
      for (auto& p : outbox)
        if (p.listener == li) batch.push_back(std::move(p.datagram));
      if (batch.empty()) continue;
      stats.send_errors += SendBatch(listeners[li]->socket.native_handle(), batch);
    }
    const auto sent = std::chrono::steady_clock::now();
    for (auto& p : outbox) {
      for (std::size_t t = 0; t < kReplyTypes.size(); ++t)
        if (kReplyTypes[t] == p.type)
          reply_latency[t].Observe(std::chrono::duration<double>(sent - p.received).count());
      ++stats.sent[static_cast<std::size_t>(p.type)];
      if (p.type == MessageType::kNak) ++stats.naks;
      if (p.granted && observer) observer(*p.granted);
    }
    outbox.clear();
  }
};

DhcpServer::DhcpServer(boost::asio::io_context& io, const ConfigSource& config, Store& store, DhcpObserver observer,
                       BootPolicy policy)
    : impl_(std::make_shared<Impl>(io, config, store, std::move(observer), std::move(policy))) {
  if (!impl_->policy) impl_->policy = StandaloneBootPolicy([&config] { return config.Current(); });
}

DhcpServer::~DhcpServer() { Stop(); }

Status DhcpServer::Start() {
  auto cfg = impl_->config.Current();
  if (!cfg) return Status(ErrorCode::kFailedPrecondition, "no configuration");
  const auto mode = cfg->dhcp.mode;
  if (mode == DhcpMode::kOff) return Status::Ok();
  if (mode == DhcpMode::kFull && cfg->dhcp.subnets.empty())
    return Status(ErrorCode::kInvalidArgument, "dhcp.mode full needs at least one subnet");
  if (cfg->server.address.IsUnspecified())
    return Status(ErrorCode::kInvalidArgument, "server.address is needed for DHCP (server id, next-server)");

  std::vector<LeaseRecord> leases;
  if (mode == DhcpMode::kFull) {
    auto loaded = impl_->store.LoadLeases();
    if (!loaded) return loaded.status();
    leases = std::move(loaded).value();
  }

  std::lock_guard lock(impl_->mu);
  impl_->stopped = false;
  impl_->responder = std::make_unique<DhcpResponder>(cfg, leases, impl_->policy);
  impl_->stats.leases = impl_->responder->leases().size();
  std::vector<std::pair<std::uint16_t, bool>> ports;
  if (mode == DhcpMode::kFull || cfg->dhcp.proxy_port67) ports.emplace_back(kServerPort, false);
  ports.emplace_back(kBootServerPort, true);
  for (auto [port, boot] : ports) {
    auto fd = OpenDhcpSocket(port, cfg->server.interface);
    if (!fd) {
      impl_->listeners.clear();
      return fd.status();
    }
    auto l = std::make_unique<Impl::Listener>(Impl::Listener{udp::socket(impl_->io), boot});
    boost::system::error_code ec;
    l->socket.assign(udp::v4(), *fd, ec);
    if (ec) return Status(ErrorCode::kInternal, "asio assign: " + ec.message());
    impl_->listeners.push_back(std::move(l));
  }
  for (std::size_t i = 0; i < impl_->listeners.size(); ++i) impl_->ArmRead(i);
  SPDLOG_INFO("dhcp: {} mode on {} ({} leases loaded)", DhcpModeName(mode),
              cfg->server.interface.empty() ? "all interfaces" : cfg->server.interface, leases.size());
  return Status::Ok();
}

void DhcpServer::Stop() {
  std::lock_guard lock(impl_->mu);
  impl_->stopped = true;
  for (auto& l : impl_->listeners) {
    boost::system::error_code ec;
    l->socket.close(ec);
  }
  impl_->listeners.clear();
}

DhcpStats DhcpServer::Stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

std::vector<std::pair<MessageType, LatencyHistogram::Snapshot>> DhcpServer::ReplyLatencies() const {
  std::vector<std::pair<MessageType, LatencyHistogram::Snapshot>> out;
  for (std::size_t t = 0; t < Impl::kReplyTypes.size(); ++t)
    out.emplace_back(Impl::kReplyTypes[t], impl_->reply_latency[t].Read());
  return out;
}

std::vector<LeaseRecord> DhcpServer::Leases() const {
  std::lock_guard lock(impl_->mu);
  if (!impl_->responder) return {};
  return impl_->responder->leases().Records();
}

}  // namespace metalpxe::dhcp
