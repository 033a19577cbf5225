#include "etcd/etcd_watch.h"

#include <atomic>
#include <future>

#include <boost/asio/steady_timer.hpp>

#include "etcd/etcd_errors.h"
#include "etcd/etcd_stream.h"

namespace metalpxe::etcd {

using WatchStream = StreamReactor<pb::WatchRequest, pb::WatchResponse>;

// Lives on the client's io thread; the handle and posted callbacks hold it.
struct EtcdWatch::Core : std::enable_shared_from_this<EtcdWatch::Core> {
  Core(EtcdClient& c, WatchOptions o, WatchHandler h)
      : client(c), options(std::move(o)), handler(std::move(h)), retry(c.io()) {
    next.store(options.start_revision);
  }

  EtcdClient& client;
  WatchOptions options;
  WatchHandler handler;
  boost::asio::steady_timer retry;
  WatchStream::Handle stream;
  std::uint64_t generation = 0;  // which stream the messages belong to
  std::size_t endpoint = 0;
  std::chrono::milliseconds backoff{50};
  bool stopped = false;
  std::atomic<std::int64_t> next{0};
  std::atomic<int> resumes{0};
  int opened = 0;

  void Open() {
    if (stopped) return;
    endpoint = client.preferred_endpoint();
    const auto gen = ++generation;
    if (opened++ > 0) ++resumes;
    auto self = shared_from_this();
    auto& ep = client.endpoint(endpoint);
    stream = WatchStream::Start(
        client, [&ep](grpc::ClientContext* ctx, auto* reactor) { ep.watch->async()->Watch(ctx, reactor); },
        [self, gen](pb::WatchResponse r) { self->OnResponse(gen, r); },
        [self, gen](grpc::Status st) { self->OnStreamDone(gen, st); });
    pb::WatchRequest req;
    auto* create = req.mutable_create_request();
    create->set_key(options.key);
    create->set_range_end(options.range_end);
    create->set_start_revision(next.load());
    create->set_prev_kv(options.prev_kv);
    // Progress notifications move `next` along while nothing changes, so a
    // resume after a quiet hour does not ask for compacted revisions.
    create->set_progress_notify(true);
    stream.Send(std::move(req));
  }

  void OnResponse(std::uint64_t gen, const pb::WatchResponse& r) {
    if (stopped || gen != generation) return;
    if (r.canceled()) {
      if (r.compact_revision() > 0) {
        Stop();
        if (handler.on_compacted) handler.on_compacted(r.compact_revision());
        return;
      }
      // Canceled for another reason (e.g. no leader): start over elsewhere.
      stream.Cancel();
      return;
    }
    if (r.created()) {
      backoff = std::chrono::milliseconds(50);
      // From "now": the first revision after the one the watch was created at.
      if (next.load() == 0) next.store(r.header().revision() + 1);
      if (handler.on_created) handler.on_created();
    }
    if (r.events_size() > 0) {
      std::vector<mvccpb::Event> events(r.events().begin(), r.events().end());
      next.store(events.back().kv().mod_revision() + 1);
      if (handler.on_events) handler.on_events(events, events.back().kv().mod_revision());
    } else if (!r.created() && r.header().revision() + 1 > next.load()) {
      // A progress notification: nothing in range changed up to this revision.
      next.store(r.header().revision() + 1);
    }
  }

  void OnStreamDone(std::uint64_t gen, const grpc::Status& st) {
    if (stopped || gen != generation) return;
    const auto c = ClassifyGrpcError(st.error_code(), st.error_message());
    const Status why(ErrorCode::kUnavailable, "etcd watch on " + client.endpoint(endpoint).spec.url + ": " +
                                                  (st.ok() ? std::string("stream ended") : c.message));
    client.NoteFailure(endpoint, why);
    if (handler.on_interrupted) handler.on_interrupted(why);
    // The next endpoint at once; after a round of failures wait a little
    // longer each time (up to 1 s), so a cluster without quorum is not spun on.
    const auto delay = backoff;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    retry.expires_after(delay);
    auto self = shared_from_this();
    retry.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->Open();
    });
  }

  void Stop() {
    stopped = true;
    retry.cancel();
    stream.Cancel();
  }
};

std::unique_ptr<EtcdWatch> EtcdWatch::Start(std::shared_ptr<EtcdClient> client, WatchOptions options,
                                            WatchHandler handler) {
  auto core = std::make_shared<Core>(*client, std::move(options), std::move(handler));
  boost::asio::post(client->io(), [core] { core->Open(); });
  return std::unique_ptr<EtcdWatch>(new EtcdWatch(std::move(client), std::move(core)));
}

EtcdWatch::EtcdWatch(std::shared_ptr<EtcdClient> client, std::shared_ptr<Core> core)
    : client_(std::move(client)), core_(std::move(core)) {}

EtcdWatch::~EtcdWatch() {
  WatchStream::Handle stream;
  if (client_->OnIoThread()) {
    core_->Stop();
    stream = core_->stream;
  } else {
    std::promise<WatchStream::Handle> stopped;
    auto f = stopped.get_future();
    boost::asio::post(client_->io(), [core = core_, &stopped] {
      core->Stop();
      stopped.set_value(core->stream);
    });
    stream = f.get();
  }
  // The reactor no longer delivers anything the core acts on; wait for gRPC
  // to let go of it so nothing of this watch outlives the handle but posted
  // no-ops.
  stream.WaitFinished();
}

std::int64_t EtcdWatch::next_revision() const { return core_->next.load(); }
int EtcdWatch::resumes() const { return core_->resumes.load(); }

}  // namespace metalpxe::etcd
