#include "etcd/etcd_election.h"

#include <future>
#include <mutex>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "etcd/etcd_keepalive.h"
#include "etcd/etcd_kv.h"
#include "etcd/etcd_watch.h"

namespace metalpxe::etcd {

std::string DhcpSubnetElectionKey(const std::string& prefix, const std::string& subnet_cidr) {
  std::string name = subnet_cidr;
  for (auto& c : name)
    if (c == '/') c = '_';  // one path element per subnet
  return prefix + "leaders/dhcp/" + name;
}

struct EtcdElection::Core : std::enable_shared_from_this<EtcdElection::Core> {
  Core(const std::shared_ptr<EtcdClient>& c, ElectionOptions o, std::function<void(const ElectionStatus&)> f)
      : client(c.get()), weak_client(c), options(std::move(o)), on_change(std::move(f)), retry(c->io()) {}

  // Only the io thread touches what follows, except `published` (under mu).
  // The handle owns the client; the core only uses it while not stopped,
  // which ends before the handle lets the client go.
  EtcdClient* client;
  std::weak_ptr<EtcdClient> weak_client;  // for the watch and keep-alive it starts
  ElectionOptions options;
  std::function<void(const ElectionStatus&)> on_change;
  boost::asio::steady_timer retry;
  std::unique_ptr<EtcdKeepAlive> keepalive;
  std::unique_ptr<EtcdWatch> watch;
  std::int64_t lease = 0;
  std::uint64_t epoch = 0;  // bumped when the lease changes: late answers for an old one are dropped
  bool stopped = false;
  ElectionStatus current;
  mutable std::mutex mu;
  ElectionStatus published;

  void Post(std::function<void()> f) {
    auto self = shared_from_this();
    boost::asio::post(client->io(), [self, f = std::move(f)] {
      if (!self->stopped) f();
    });
  }

  void Publish(ElectionStatus next) {
    const bool changed =
        next.leader != current.leader || next.leader_name != current.leader_name || next.term != current.term;
    current = std::move(next);
    {
      std::lock_guard lock(mu);
      published = current;
    }
    if (changed && on_change) on_change(current);
  }

  void RetryLater(std::function<void()> what) {
    retry.expires_after(options.retry_delay);
    auto self = shared_from_this();
    retry.async_wait([self, what = std::move(what)](const boost::system::error_code& ec) {
      if (!ec && !self->stopped) what();
    });
  }

  void Grant() {
    const auto e = ++epoch;
    watch.reset();
    keepalive.reset();
    lease = 0;
    pb::LeaseGrantRequest req;
    req.set_ttl(options.ttl_seconds);
    const auto sent = EtcdKeepAlive::Clock::now();
    auto self = shared_from_this();
    CallOptions o;
    o.repeat_safe = true;  // a second lease from a repeat expires unused
    client->LeaseGrant(
        req,
        [self, e, sent](Result<pb::LeaseGrantResponse> r) {
          self->Post([self, e, sent, r = std::move(r)] { self->OnGranted(e, sent, r); });
        },
        o);
  }

  void OnGranted(std::uint64_t e, EtcdKeepAlive::Clock::time_point sent, const Result<pb::LeaseGrantResponse>& r) {
    if (e != epoch) return;
    if (!r.ok() || !r->error().empty()) {
      spdlog::debug("election {}: lease grant failed: {}", options.key, r.ok() ? r->error() : r.status().message());
      RetryLater([this] { Grant(); });
      return;
    }
    lease = r->id();
    auto self = shared_from_this();
    keepalive = EtcdKeepAlive::Start(weak_client.lock(), lease, r->ttl(), sent, [self, e](const Status& why) {
      // Already on the io thread.
      if (self->stopped || e != self->epoch) return;
      self->OnLeaseLost(why);
    });
    Campaign();
  }

  void OnLeaseLost(const Status& why) {
    if (current.leader) spdlog::warn("election {}: stepping down: {}", options.key, why.message());
    Publish(ElectionStatus{false, "", 0});
    // We no longer act on the old lease. If it is in fact still alive (the
    // keep-alive answers were only late: a loaded machine), revoking it
    // frees the key now rather than after the TTL, so the subnet is not
    // left without a leader for that long. Best effort: when etcd cannot be
    // reached it expires on its own.
    if (lease != 0) {
      pb::LeaseRevokeRequest req;
      req.set_id(lease);
      client->LeaseRevoke(req, [](Result<pb::LeaseRevokeResponse>) {});
    }
    Grant();
  }

  void Campaign() {
    const auto e = epoch;
    pb::TxnRequest txn;
    *txn.add_compare() = CreateRevisionIs(options.key, 0);
    *txn.add_success() = PutOp(options.key, options.candidate, lease);
    *txn.add_failure() = GetOp(options.key);
    CallOptions o;
    o.repeat_safe = true;  // a repeat finds our own key (same lease) and counts as won
    auto self = shared_from_this();
    client->Txn(
        txn,
        [self, e](Result<pb::TxnResponse> r) {
          self->Post([self, e, r = std::move(r)] { self->OnCampaign(e, r); });
        },
        o);
  }

  void OnCampaign(std::uint64_t e, const Result<pb::TxnResponse>& r) {
    if (e != epoch) return;
    if (!r.ok()) {
      spdlog::debug("election {}: campaign failed: {}", options.key, r.status().message());
      RetryLater([this] { Campaign(); });
      return;
    }
    const std::int64_t revision = r->header().revision();
    if (r->succeeded()) {
      Publish(ElectionStatus{true, options.candidate, revision});
    } else {
      const auto& kvs = r->responses(0).response_range().kvs();
      if (kvs.empty()) {  // deleted between compare and read: try again at once
        Campaign();
        return;
      }
      const auto& kv = kvs[0];
      Publish(ElectionStatus{kv.lease() == lease, kv.value(), kv.create_revision()});
    }
    WatchKey(revision + 1);
  }

  void WatchKey(std::int64_t from) {
    WatchOptions wo;
    wo.key = options.key;
    wo.start_revision = from;
    WatchHandler h;
    const auto e = epoch;
    auto self = shared_from_this();
    h.on_events = [self, e](const std::vector<mvccpb::Event>& events, std::int64_t) {
      if (self->stopped || e != self->epoch) return;
      for (const auto& ev : events) {
        if (ev.type() == mvccpb::Event::DELETE) {
          if (self->current.leader)
            spdlog::warn("election {}: our key was deleted; stepping down", self->options.key);
          self->Publish(ElectionStatus{false, "", 0});
          self->watch.reset();  // safe: handlers may destroy their own watch
          self->Campaign();
          return;
        }
        self->Publish(ElectionStatus{ev.kv().lease() == self->lease, ev.kv().value(), ev.kv().create_revision()});
      }
    };
    h.on_compacted = [self, e](std::int64_t) {
      if (self->stopped || e != self->epoch) return;
      self->watch.reset();
      self->Campaign();  // reads the key again and watches from there
    };
    watch = EtcdWatch::Start(weak_client.lock(), std::move(wo), std::move(h));
  }

  // Returns the lease to revoke (0 for none).
  std::int64_t Stop() {
    stopped = true;
    ++epoch;
    retry.cancel();
    watch.reset();
    keepalive.reset();
    return lease;
  }
};

std::unique_ptr<EtcdElection> EtcdElection::Start(std::shared_ptr<EtcdClient> client, ElectionOptions options,
                                                  std::function<void(const ElectionStatus&)> on_change) {
  auto core = std::make_shared<Core>(client, std::move(options), std::move(on_change));
  boost::asio::post(client->io(), [core] {
    if (!core->stopped) core->Grant();
  });
  return std::unique_ptr<EtcdElection>(new EtcdElection(std::move(client), std::move(core)));
}

EtcdElection::EtcdElection(std::shared_ptr<EtcdClient> client, std::shared_ptr<Core> core)
    : client_(std::move(client)), core_(std::move(core)) {}

EtcdElection::~EtcdElection() {
  std::int64_t lease = 0;
  if (client_->OnIoThread()) {
    lease = core_->Stop();
  } else {
    std::promise<std::int64_t> stopped;
    auto f = stopped.get_future();
    boost::asio::post(client_->io(), [core = core_, &stopped] { stopped.set_value(core->Stop()); });
    lease = f.get();
  }
  if (lease != 0) {
    // Revoking deletes the key at once, so a standby takes over now rather
    // than after the TTL. If it fails, the lease expires on its own.
    pb::LeaseRevokeRequest req;
    req.set_id(lease);
    auto r = client_->LeaseRevokeSync(req);
    if (!r.ok()) spdlog::warn("election {}: revoking the lease failed: {}", core_->options.key, r.status().message());
  }
  // The core's timer belongs to the client's io_context: let it go there.
  boost::asio::post(client_->io(), [core = std::move(core_)] {});
}

ElectionStatus EtcdElection::status() const {
  std::lock_guard lock(core_->mu);
  return core_->published;
}

}  // namespace metalpxe::etcd
