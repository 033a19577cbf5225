#include "etcd/etcd_keepalive.h"

#include <atomic>
#include <deque>
#include <future>

#include <boost/asio/steady_timer.hpp>

#include "etcd/etcd_errors.h"
#include "etcd/etcd_stream.h"

namespace metalpxe::etcd {

using KeepAliveStream = StreamReactor<pb::LeaseKeepAliveRequest, pb::LeaseKeepAliveResponse>;
using Clock = EtcdKeepAlive::Clock;

struct EtcdKeepAlive::Core : std::enable_shared_from_this<EtcdKeepAlive::Core> {
  Core(EtcdClient& c, std::int64_t id, std::int64_t ttl, Clock::time_point granted_at,
       std::function<void(const Status&)> lost)
      : client(c), lease_id(id), ttl(std::chrono::seconds(ttl)), on_lost(std::move(lost)), tick(c.io()),
        watchdog(c.io()), reopen(c.io()) {
    valid_until.store(granted_at + this->ttl);
  }

  EtcdClient& client;
  const std::int64_t lease_id;
  const std::chrono::seconds ttl;
  std::function<void(const Status&)> on_lost;
  boost::asio::steady_timer tick, watchdog, reopen;
  KeepAliveStream::Handle stream;
  std::uint64_t generation = 0;
  std::size_t endpoint = 0;
  std::deque<Clock::time_point> sent;  // send times of requests not answered yet, oldest first
  bool stopped = false;
  std::atomic<Clock::time_point> valid_until{};

  // Declared lost this long before the proof runs out: the owner needs a
  // moment to stop acting (a DHCP server to stop answering) before etcd can
  // hand the key to someone else.
  std::chrono::milliseconds Margin() const {
    return std::min(std::chrono::milliseconds(500), std::chrono::duration_cast<std::chrono::milliseconds>(ttl) / 4);
  }

  std::chrono::milliseconds Interval() const {
    return std::max(std::chrono::milliseconds(200), std::chrono::duration_cast<std::chrono::milliseconds>(ttl) / 3);
  }

  void Begin() {
    Open();
    Tick();
    ArmWatchdog();
  }

  void Open() {
    if (stopped) return;
    endpoint = client.preferred_endpoint();
    sent.clear();  // answers on the old stream will not come
    const auto gen = ++generation;
    auto self = shared_from_this();
    auto& ep = client.endpoint(endpoint);
    stream = KeepAliveStream::Start(
        client, [&ep](grpc::ClientContext* ctx, auto* r) { ep.lease->async()->LeaseKeepAlive(ctx, r); },
        [self, gen](pb::LeaseKeepAliveResponse r) { self->OnAnswer(gen, r); },
        [self, gen](grpc::Status st) { self->OnStreamDone(gen, st); });
  }

  void Tick() {
    if (stopped) return;
    pb::LeaseKeepAliveRequest req;
    req.set_id(lease_id);
    sent.push_back(Clock::now());
    stream.Send(req);
    tick.expires_after(Interval());
    auto self = shared_from_this();
    tick.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->Tick();
    });
  }

  void OnAnswer(std::uint64_t gen, const pb::LeaseKeepAliveResponse& r) {
    if (stopped || gen != generation || sent.empty()) return;
    const auto sent_at = sent.front();
    sent.pop_front();
    if (r.ttl() <= 0) {
      Lose(Status(ErrorCode::kNotFound, "etcd lease " + std::to_string(lease_id) + " expired or was revoked"));
      return;
    }
    client.NoteSuccess(endpoint);
    const auto until = sent_at + std::chrono::seconds(r.ttl());
    if (until > valid_until.load()) valid_until.store(until);
    ArmWatchdog();
  }

  void ArmWatchdog() {
    if (stopped) return;
    watchdog.expires_at(valid_until.load() - Margin());
    auto self = shared_from_this();
    watchdog.async_wait([self](const boost::system::error_code& ec) {
      if (ec || self->stopped) return;
      if (Clock::now() >= self->valid_until.load() - self->Margin())
        self->Lose(Status(ErrorCode::kDeadlineExceeded,
                          "etcd lease " + std::to_string(self->lease_id) + ": no keep-alive answer within its " +
                              std::to_string(self->ttl.count()) + " s TTL; it may have expired"));
      else
        self->ArmWatchdog();
    });
  }

  void OnStreamDone(std::uint64_t gen, const grpc::Status& st) {
    if (stopped || gen != generation) return;
    client.NoteFailure(endpoint, Status(ErrorCode::kUnavailable, st.error_message()));
    // Try again soon; the watchdog decides when it is too late.
    reopen.expires_after(std::chrono::milliseconds(100));
    auto self = shared_from_this();
    reopen.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->Open();
    });
  }

  void Lose(const Status& why) {
    Stop();
    if (on_lost) on_lost(why);
  }

  void Stop() {
    stopped = true;
    tick.cancel();
    watchdog.cancel();
    reopen.cancel();
    stream.Cancel();
  }
};

std::unique_ptr<EtcdKeepAlive> EtcdKeepAlive::Start(std::shared_ptr<EtcdClient> client, std::int64_t lease_id,
                                                    std::int64_t ttl_seconds, Clock::time_point granted_at,
                                                    std::function<void(const Status&)> on_lost) {
  auto core = std::make_shared<Core>(*client, lease_id, ttl_seconds, granted_at, std::move(on_lost));
  boost::asio::post(client->io(), [core] { core->Begin(); });
  return std::unique_ptr<EtcdKeepAlive>(new EtcdKeepAlive(std::move(client), std::move(core)));
}

EtcdKeepAlive::EtcdKeepAlive(std::shared_ptr<EtcdClient> client, std::shared_ptr<Core> core)
    : client_(std::move(client)), core_(std::move(core)) {}

EtcdKeepAlive::~EtcdKeepAlive() {
  KeepAliveStream::Handle stream;
  if (client_->OnIoThread()) {
    core_->Stop();
    stream = core_->stream;
  } else {
    std::promise<KeepAliveStream::Handle> stopped;
    auto f = stopped.get_future();
    boost::asio::post(client_->io(), [core = core_, &stopped] {
      core->Stop();
      stopped.set_value(core->stream);
    });
    stream = f.get();
  }
  stream.WaitFinished();
}

std::int64_t EtcdKeepAlive::lease_id() const { return core_->lease_id; }
Clock::time_point EtcdKeepAlive::valid_until() const { return core_->valid_until.load(); }

}  // namespace metalpxe::etcd
