#include "dhcp/server.h"

#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>

#include "core/log.h"
#include "core/unique_fd.h"
#include "dhcp/address_probe.h"
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
  struct WrittenLease {  // what the stored-lease index needs of a write that became durable
    MacAddress mac;
    Ipv4Address ip;
    std::int64_t expires_unix = 0;
    LeaseRecord::Kind kind = LeaseRecord::Kind::kActive;
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
      : io(io),
        config(config),
        store(store),
        observer(std::move(observer)),
        policy(std::move(policy)),
        prober(io, AddressProbeOptions{}) {}

  boost::asio::io_context& io;
  const ConfigSource& config;
  Store& store;
  DhcpObserver observer;
  BootPolicy policy;
  AddressProber prober;  // ping-check before offering an unbound address
  // MAC -> the newest DISCOVER's xid while that MAC's offer waits for its
  // ping-check: a client that starts a new transaction meanwhile (a new xid,
  // as perfdhcp and restarted clients do) gets the offer under that xid, not
  // under one it no longer accepts. At most one entry per probe in flight.
  std::unordered_map<MacAddress, std::uint32_t> probing_xids;
  UniqueFd unicast_packet_socket;  // replies to clients without an address (full mode)
  bool warned_broadcast_instead = false;

  mutable std::mutex mu;  // everything below, except the durable queue
  std::unique_ptr<DhcpResponder> responder;
  std::vector<std::unique_ptr<Listener>> listeners;
  std::vector<Pending> outbox;
  DhcpStats stats;
  DhcpLeadership leadership;  // who answers which subnet
  bool stopped = false;

  std::mutex durable_mu;  // write outcomes not yet handled on the io_context
  struct WriteOutcome;
  std::vector<WriteOutcome> durable_ready;
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
    HandleInbound(li, in, 0, received);
  }

  // At most this many addresses are probed for one DISCOVER: a client (or a
  // forged flood) cannot make one request cost more.
  static constexpr int kMaxProbesPerDiscover = 4;

  // `received`: the request's arrival, for the reply latency (a probe's wait
  // and a retry after a conflict are part of what the client waits for).
  void HandleInbound(std::size_t li, const Inbound& in, int attempt, std::chrono::steady_clock::time_point received) {
    if (in.msg.Type() == MessageType::kDiscover)
      if (auto it = probing_xids.find(in.msg.Mac()); it != probing_xids.end()) it->second = in.msg.xid;
    responder->SetProbeRoom(!prober.enabled() ? ProbeRoom::kOff
                            : prober.HasRoom() ? ProbeRoom::kAvailable
                                               : ProbeRoom::kFull);
    // Port 4011 answers a client that already chose this appliance's offer.
    if (!in.boot_server_port) {
      switch (ShouldAnswerDhcp(leadership, responder->SubnetOf(in))) {
        case DhcpAnswer::kAnswer: break;
        case DhcpAnswer::kStandby: ++stats.dropped_standby; return;
        case DhcpAnswer::kTakingOver: ++stats.dropped_taking_over; return;
      }
    }
    const LostRule rule = RuleWhileLost(in);
    if (rule == LostRule::kDrop) {
      ++stats.dropped_store_lost;
      return;
    }
    Decision decision = responder->Handle(in, NowUnix());
    if (rule == LostRule::kRenewUnstored && decision.reply && decision.reply->msg.Type() == MessageType::kAck)
      LimitToStoredLease(decision, in.msg.Mac());
    stats.leases = responder->leases().size();
    if (decision.probe_skipped) ++stats.probes_skipped;
    if (attempt == 0 && decision.observation && observer) observer(*decision.observation);
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
      p.datagram.to_unconfigured_client = out.to_unconfigured_client;
      p.datagram.mac = out.msg.Mac();
      p.datagram.source = out.msg.GetIpv4(opt::kServerId).value_or(Ipv4Address{});
      p.datagram.source_port = listeners[li]->boot_server_port ? kBootServerPort : kServerPort;
      if (p.type == MessageType::kAck && !out.msg.yiaddr.IsUnspecified() && decision.observation) {
        p.granted = *decision.observation;
        p.granted->leased_ip = out.msg.yiaddr;
        p.granted->message_type = MessageType::kAck;
      }
      reply = std::move(p);
    }
    if (decision.probe && reply) {
      StartProbe(li, in, attempt, *decision.probe, std::move(*reply));
      return;
    }
    if (decision.writes.empty()) {
      if (reply) outbox.push_back(std::move(*reply));
      return;
    }
    // The reply leaves once every write is durable; any failure withholds it
    // (the client retries, and no address is promised that a crash could lose).
    struct Join {
      std::mutex mu;
      int left = 0;
      Status error;  // the first failure
      std::optional<Pending> reply;
      std::vector<WrittenLease> writes;
    };
    auto join = std::make_shared<Join>();
    join->left = static_cast<int>(decision.writes.size());
    join->reply = std::move(reply);
    join->writes.reserve(decision.writes.size());
    for (const auto& w : decision.writes) join->writes.push_back(WrittenLease{w.mac, w.ip, w.expires_unix, w.kind});
    if (lost) lost->next_trial = std::chrono::steady_clock::now() + kStoreTrialInterval;
    std::weak_ptr<Impl> weak = shared_from_this();
    for (const auto& w : decision.writes) {
      store.PutLease(w, [weak, join](const Status& s) {
        std::unique_lock lock(join->mu);
        if (!s.ok() && join->error.ok()) join->error = s;
        if (--join->left != 0) return;
        lock.unlock();
        auto self = weak.lock();
        if (!self) return;
        self->Durable(std::move(*join));
      });
    }
  }

  // The offer waits on the io_context for the probe's answer; nothing blocks.
  void StartProbe(std::size_t li, const Inbound& in, int attempt, const ProbeRequest& probe, Pending offer) {
    std::weak_ptr<Impl> weak = shared_from_this();
    const MacAddress mac = in.msg.Mac();
    probing_xids[mac] = in.msg.xid;
    prober.Probe(probe.ip, in.ifindex, probe.on_link,
                 [weak, li, in, attempt, ip = probe.ip, mac, offer = std::move(offer)](bool in_use) mutable {
                   auto self = weak.lock();
                   if (!self) return;
                   std::lock_guard lock(self->mu);
                   if (self->stopped || !self->responder) return;
                   self->ProbeAnswered(li, in, attempt, ip, mac, in_use, std::move(offer));
                   self->Flush();
                 });
  }

  void ProbeAnswered(std::size_t li, const Inbound& in, int attempt, Ipv4Address ip, const MacAddress& mac,
                     bool in_use, Pending offer) {
    std::uint32_t newest_xid = in.msg.xid;
    if (auto it = probing_xids.find(mac); it != probing_xids.end()) {
      newest_xid = it->second;
      probing_xids.erase(it);
    }
    const bool send = responder->ProbeAnswered(mac, ip, in_use, NowUnix());
    if (send) {
      RewriteXid(offer.datagram.bytes, newest_xid);
      outbox.push_back(std::move(offer));
      return;
    }
    if (!in_use) return;  // the held offer went away meanwhile (the client moved on)
    // Skipped and recorded: the address stays quarantined in the lease table
    // and the next candidate is tried, a bounded number of times.
    SPDLOG_WARN("dhcp: {} is in use by a host that has no lease from us; not offered to {} (quarantined for {} s)",
                ip.ToString(), mac.ToString(), DhcpResponder::kDeclineQuarantineSeconds);
    if (attempt + 1 < kMaxProbesPerDiscover) {
      Inbound newest = in;
      newest.msg.xid = newest_xid;
      HandleInbound(li, newest, attempt + 1, offer.received);
    } else {
      ++stats.dropped_probe_conflicts;
    }
  }

  // The outcome of one request's writes, from the store's writer thread.
  struct WriteOutcome {
    Status error;                    // ok: every write is durable
    std::optional<Pending> reply;    // sent only when ok
    std::vector<WrittenLease> writes;
  };
  template <class JoinT>
  void Durable(JoinT&& join) {
    std::lock_guard lock(durable_mu);
    durable_ready.push_back(WriteOutcome{join.error, std::move(join.reply), std::move(join.writes)});
    if (drain_posted) return;
    drain_posted = true;
    std::weak_ptr<Impl> weak = shared_from_this();
    boost::asio::post(io, [weak] {
      if (auto self = weak.lock()) self->DrainDurable();
    });
  }

  void DrainDurable() {
    std::vector<WriteOutcome> ready;
    {
      std::lock_guard lock(durable_mu);
      ready.swap(durable_ready);
      drain_posted = false;
    }
    std::lock_guard lock(mu);
    for (auto& o : ready) {
      if (!o.error.ok()) {
        ++stats.store_failures;
        // An address held by another MAC (a second appliance, a stale
        // table) is a refusal, not a broken store.
        if (o.error.code() != ErrorCode::kAlreadyExists) {
          StoreLost(o.error);
        } else {
          // Our table is behind the store (another appliance granted the
          // address): read it again rather than offer the same one.
          SPDLOG_WARN("dhcp: the store refused a grant ({}); reading the stored leases again", o.error.message());
          RequestReload(nullptr);
        }
        continue;
      }
      StoreWritable();
      for (const auto& w : o.writes) RememberDurable(w);
      if (!stopped && o.reply) outbox.push_back(std::move(*o.reply));
    }
    if (!stopped) Flush();
  }

  // ---- A lost store -------------------------------------------------------
  // When lease writes fail (disk full or gone, etcd unreachable) no address
  // is handed out that a restart could not remember: DISCOVERs and REQUESTs
  // of clients without a stored lease go unanswered (they retry), and a
  // client renewing a lease the store holds is ACKed without a write, for no
  // longer than the stored lease still runs. Every kStoreTrialInterval one
  // request takes the normal path; its write tells whether the store is back.
  static constexpr std::chrono::seconds kStoreTrialInterval{5};
  struct LostStore {
    std::int64_t since_unix = 0;
    std::string reason;
    std::chrono::steady_clock::time_point next_trial;
  };
  std::optional<LostStore> lost;                           // guarded by mu
  struct StoredLease {
    Ipv4Address ip;
    std::int64_t expires_unix = 0;
  };
  std::unordered_map<MacAddress, StoredLease> durable;     // active leases the store holds, by MAC

  void StoreLost(const Status& error) {
    if (lost) {
      lost->reason = error.message();
      return;
    }
    lost = LostStore{NowUnix(), error.message(), std::chrono::steady_clock::now() + kStoreTrialInterval};
    SPDLOG_ERROR("dhcp: the lease store cannot be written ({}): no new leases until it can; renewals of stored "
                 "leases are answered for the time the store already holds",
                 error.message());
  }
  void StoreWritable() {
    if (!lost) return;
    SPDLOG_WARN("dhcp: the lease store is writable again after {} s; handing out leases again",
                NowUnix() - lost->since_unix);
    lost.reset();
  }
  void RememberDurable(const WrittenLease& r) {
    auto it = durable.find(r.mac);
    if (r.kind == LeaseRecord::Kind::kActive) {
      if (!(r.mac == MacAddress{})) durable[r.mac] = StoredLease{r.ip, r.expires_unix};
    } else if (it != durable.end() && it->second.ip == r.ip) {
      durable.erase(it);
    }
  }
  const StoredLease* DurableLease(const MacAddress& mac, std::int64_t now) const {
    auto it = durable.find(mac);
    if (it == durable.end() || it->second.expires_unix <= now) return nullptr;
    return &it->second;
  }

  enum class LostRule { kNormal, kDrop, kRenewUnstored };
  // What to do with a request while the store is lost.
  LostRule RuleWhileLost(const Inbound& in) {
    if (!lost || in.boot_server_port) return LostRule::kNormal;
    const auto type = in.msg.Type();
    if (type != MessageType::kDiscover && type != MessageType::kRequest) return LostRule::kNormal;
    const auto now = NowUnix();
    const bool trial_due = std::chrono::steady_clock::now() >= lost->next_trial;
    const StoredLease* held = DurableLease(in.msg.Mac(), now);
    if (*type == MessageType::kDiscover) return held != nullptr || trial_due ? LostRule::kNormal : LostRule::kDrop;
    std::optional<Ipv4Address> ip = in.msg.GetIpv4(opt::kRequestedIp);
    if (!ip && !in.msg.ciaddr.IsUnspecified()) ip = in.msg.ciaddr;
    if (trial_due) return LostRule::kNormal;  // its write is the trial
    if (held != nullptr && ip && *ip == held->ip) return LostRule::kRenewUnstored;
    return LostRule::kDrop;
  }

  // The ACK of a renewal that is not written: the lease it grants ends when
  // the stored one does (RFC 2132 T1/T2 at 1/2 and 7/8 of what is left).
  void LimitToStoredLease(Decision& d, const MacAddress& mac) {
    const StoredLease* held = DurableLease(mac, NowUnix());
    if (held == nullptr || !d.reply) return;
    const auto left = static_cast<std::uint32_t>(std::max<std::int64_t>(held->expires_unix - NowUnix(), 1));
    auto& m = d.reply->msg;
    if (m.GetU32(opt::kLeaseTime).value_or(0) > left) {
      m.SetU32(opt::kLeaseTime, left);
      m.SetU32(opt::kRenewalTime, left / 2);
      m.SetU32(opt::kRebindingTime, static_cast<std::uint32_t>(std::uint64_t(left) * 7 / 8));
    }
    d.writes.clear();
    ++stats.renewals_unstored;
  }

  // ---- Reading the stored leases again ---------------------------------
  std::mutex reload_mu;  // what follows
  std::thread reload_thread;
  bool reload_running = false;
  bool reload_again = false;   // asked while a read ran: read once more
  bool reload_closed = false;  // stopped: no new reads
  std::vector<std::function<void(const Status&)>> reload_waiters;

  void RequestReload(std::function<void(const Status&)> done) {
    std::lock_guard lock(reload_mu);
    if (reload_closed) return;
    if (done) reload_waiters.push_back(std::move(done));
    if (reload_running) {
      reload_again = true;
      return;
    }
    reload_running = true;
    if (reload_thread.joinable()) reload_thread.join();  // done: it cleared reload_running
    std::weak_ptr<Impl> weak = shared_from_this();
    reload_thread = std::thread([this, weak] { RunReloads(weak); });
  }

  // On reload_thread. Stop() joins it before the Impl can go.
  void RunReloads(const std::weak_ptr<Impl>& weak) {
    while (true) {
      auto loaded = store.LoadLeases();
      std::vector<std::function<void(const Status&)>> waiters;
      {
        std::lock_guard lock(reload_mu);
        if (reload_again && !reload_closed) {
          reload_again = false;
          continue;
        }
        reload_again = false;
        reload_running = false;
        waiters.swap(reload_waiters);
      }
      boost::asio::post(io, [weak, loaded = std::move(loaded), waiters = std::move(waiters)] {
        auto self = weak.lock();
        if (!self) return;
        Status st = loaded.ok() ? Status::Ok() : loaded.status();
        if (loaded.ok()) self->AdoptLeases(*loaded);
        else SPDLOG_ERROR("dhcp: reading the stored leases failed: {}", st.message());
        for (auto& w : waiters) w(st);
      });
      return;
    }
  }

  // The lease table as the store holds it; offers and quarantines held only
  // in memory are dropped with the old table.
  void AdoptLeases(const std::vector<LeaseRecord>& leases) {
    std::lock_guard lock(mu);
    if (stopped) return;
    responder = std::make_unique<DhcpResponder>(config.Current(), leases, policy);
    durable.clear();
    for (const auto& l : leases) RememberLoaded(l);
    stats.leases = responder->leases().size();
    ++stats.lease_reloads;
  }
  void RememberLoaded(const LeaseRecord& l) {
    auto it = durable.find(l.mac);
    if (l.kind == LeaseRecord::Kind::kActive && (it == durable.end() || it->second.expires_unix < l.expires_unix))
      durable[l.mac] = StoredLease{l.ip, l.expires_unix};
  }

  void Flush() {
    if (outbox.empty()) return;
    for (std::size_t li = 0; li < listeners.size(); ++li) {
      std::vector<OutgoingDatagram> batch;
      for (auto& p : outbox)
        if (p.listener == li) batch.push_back(std::move(p.datagram));
      if (batch.empty()) continue;
      const auto counts = SendBatch(listeners[li]->socket.native_handle(), unicast_packet_socket.get(), batch);
      stats.send_errors += counts.failed;
      if (counts.broadcast_instead > 0 && !warned_broadcast_instead) {
        warned_broadcast_instead = true;
        SPDLOG_WARN(
            "dhcp: replies to clients without an address go out as broadcasts: neither a packet socket "
            "(CAP_NET_RAW) nor an ARP entry (CAP_NET_ADMIN) is allowed");
      }
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
  impl_->durable.clear();
  impl_->lost.reset();
  for (const auto& l : leases) impl_->RememberLoaded(l);
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
  if (mode == DhcpMode::kFull) {
    if (auto fd = OpenUnicastPacketSocket(); fd.ok())
      impl_->unicast_packet_socket.Reset(*fd);
    else
      SPDLOG_INFO("dhcp: {}: replies to clients without an address need an ARP entry (CAP_NET_ADMIN) instead",
                  fd.status().message());
    if (auto st = impl_->prober.Open(); !st.ok())
      SPDLOG_WARN("dhcp: ping-check off (addresses are offered without checking that no host uses them): {}",
                  st.message());
  }
  for (std::size_t i = 0; i < impl_->listeners.size(); ++i) impl_->ArmRead(i);
  SPDLOG_INFO("dhcp: {} mode on {} ({} leases loaded)", DhcpModeName(mode),
              cfg->server.interface.empty() ? "all interfaces" : cfg->server.interface, leases.size());
  return Status::Ok();
}

void DhcpServer::Stop() {
  std::thread reload;
  {
    std::lock_guard lock(impl_->reload_mu);
    impl_->reload_closed = true;
    reload = std::move(impl_->reload_thread);
  }
  if (reload.joinable()) reload.join();  // a store read, bounded by the store's own timeout
  std::lock_guard lock(impl_->mu);
  impl_->stopped = true;
  for (auto& l : impl_->listeners) {
    boost::system::error_code ec;
    l->socket.close(ec);
  }
  impl_->listeners.clear();
  impl_->prober.Close();
  impl_->probing_xids.clear();
  impl_->unicast_packet_socket.Reset();
}

void DhcpServer::SetLeadership(DhcpLeadership leadership) {
  std::lock_guard lock(impl_->mu);
  impl_->leadership = std::move(leadership);
}

DhcpLeadership DhcpServer::Leadership() const {
  std::lock_guard lock(impl_->mu);
  return impl_->leadership;
}

void DhcpServer::ReloadLeases(std::function<void(const Status&)> done) { impl_->RequestReload(std::move(done)); }

DhcpStats DhcpServer::Stats() const {
  std::lock_guard lock(impl_->mu);
  DhcpStats s = impl_->stats;
  const auto p = impl_->prober.Stats();
  s.probes_sent = p.sent;
  s.probes_in_use = p.in_use;
  s.probes_max_in_flight = p.max_in_flight;
  if (impl_->lost) {
    s.store_writable = false;
    s.store_lost_since_unix = impl_->lost->since_unix;
    s.store_error = impl_->lost->reason;
  }
  return s;
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
