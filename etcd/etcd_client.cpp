#include "etcd/etcd_client.h"

#include <algorithm>
#include <future>

#include <spdlog/spdlog.h>

#include "core/config_paths.h"
#include "etcd/etcd_errors.h"

namespace metalpxe::etcd {
namespace {

using Clock = std::chrono::steady_clock;

std::shared_ptr<grpc::ChannelCredentials> Credentials(const EtcdClientOptions& o) {
  if (o.endpoints.empty() || !o.endpoints.front().tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = o.ca_pem;
  ssl.pem_private_key = o.key_pem;
  ssl.pem_cert_chain = o.cert_pem;
  return grpc::SslCredentials(ssl);
}

grpc::ChannelArguments ChannelArgs() {
  grpc::ChannelArguments args;
  // Each client has its own connections: two clients in one process (two
  // appliances in a test, or the store and an election) must not share one
  // TCP connection and fail together.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // Reconnect to a restarted member within a second, not gRPC's default
  // back-off of up to two minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // Notice a member that vanished without closing the connection (power
  // loss, partition). etcd refuses pings more often than every 5 s
  // (--grpc-keepalive-min-time) and pings without an open call.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  // Ranges are paged by the callers, but a page of large values may exceed
  // gRPC's default 4 MiB receive limit.
  args.SetMaxReceiveMessageSize(256 * 1024 * 1024);
  return args;
}

template <typename T>
Result<T> Wait(const std::function<void(Callback<T>)>& start) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  start([promise](Result<T> r) { promise->set_value(std::move(r)); });
  return future.get();
}

}  // namespace

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

Result<EtcdClientOptions> ClientOptionsFromConfig(const StoreConfig& config) {
  EtcdClientOptions o;
  o.endpoints = config.endpoints;
  if (o.endpoints.empty()) return Status(ErrorCode::kInvalidArgument, "store: no etcd endpoints");
  struct {
    const std::string& path;
    std::string* into;
  } files[] = {{config.ca_file, &o.ca_pem}, {config.cert_file, &o.cert_pem}, {config.key_file, &o.key_pem}};
  for (auto& f : files) {
    if (f.path.empty()) continue;
    std::string error;
    if (!ReadWholeFile(f.path, f.into, &error))
      return Status(ErrorCode::kFailedPrecondition, "store: cannot read " + f.path + ": it " + error);
  }
  return o;
}

// One unary call and its walk over the endpoints. Owned by its own
// completion callbacks (shared_from_this) until the user callback has run.
template <typename Req, typename Resp>
class UnaryCall : public std::enable_shared_from_this<UnaryCall<Req, Resp>> {
 public:
  UnaryCall(EtcdClient* client, const char* method, bool write, Req req,
            EtcdClient::Invoker<Req, Resp> invoke, Callback<Resp> done, CallOptions o,
            std::optional<std::size_t> pinned)
      : client_(client), method_(method), write_(write), req_(std::move(req)), invoke_(invoke),
        done_(std::move(done)), options_(o), pinned_(pinned) {}

  void Start() {
    if (!client_->BeginCall()) {
      auto done = std::move(done_);
      done(Status(ErrorCode::kUnavailable, std::string("etcd ") + method_ + ": the client is closing"));
      return;
    }
    const auto timeout = options_.timeout.count() > 0 ? options_.timeout : client_->options().call_timeout;
    deadline_ = Clock::now() + timeout;
    first_ = pinned_ ? *pinned_ : client_->preferred_endpoint();
    Attempt();
  }

 private:
  std::size_t Count() const { return pinned_ ? 1 : client_->endpoint_count(); }

  void Attempt() {
    const std::size_t index = (first_ + tried_) % client_->endpoint_count();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    const auto budget = std::max(std::chrono::milliseconds(1), std::min(left, client_->options().attempt_timeout));
    // The last endpoint, or a write that may not be sent twice (it cannot
    // move on after a timeout anyway), gets everything that is left.
    const bool last = tried_ + 1 >= Count() || (write_ && !options_.repeat_safe);
    ctx_ = client_->NewContext(last ? std::max(left, std::chrono::milliseconds(1)) : budget);
    client_->Track(ctx_.get());
    resp_.Clear();
    auto self = this->shared_from_this();
    invoke_(client_->endpoint(index), ctx_.get(), &req_, &resp_,
            [self, index](grpc::Status st) { self->Finish(index, st); });
  }

  void Finish(std::size_t index, const grpc::Status& st) {
    client_->Untrack(ctx_.get());
    // Done with this attempt's context (gRPC holds its own reference to the
    // call until this callback returns).
    ctx_.reset();
    if (st.ok()) {
      client_->NoteSuccess(index);
      Deliver(std::move(resp_));
      return;
    }
    auto c = ClassifyGrpcError(st.error_code(), st.error_message());
    const std::string url = client_->endpoint(index).spec.url;
    attempts_.push_back({url, c});
    ++tried_;
    const bool transport = c.failure == EtcdFailure::kUnreachable || c.failure == EtcdFailure::kNoLeader ||
                           c.failure == EtcdFailure::kTimedOut || c.failure == EtcdFailure::kConnectionLost;
    if (transport) client_->NoteFailure(index, Status(ErrorCode::kUnavailable, c.message));
    const bool repeat_safe = !write_ || options_.repeat_safe;
    if (tried_ < Count() && Clock::now() < deadline_ && TryNextEndpoint(c.failure, repeat_safe)) {
      Attempt();
      return;
    }
    auto final_status = FinalStatus(method_, attempts_, client_->endpoint_count());
    client_->NoteCallFailure(final_status);
    Deliver(std::move(final_status));
  }

  void Deliver(Result<Resp> r) {
    try {
      done_(std::move(r));
    } catch (const std::exception& e) {
      spdlog::error("etcd: a {} callback threw: {}", method_, e.what());
    } catch (...) {
      spdlog::error("etcd: a {} callback threw", method_);
    }
    // Whatever the callback owned goes while the client still stands; then
    // the client may close.
    done_ = nullptr;
    client_->EndCall();
  }

  EtcdClient* client_;  // outlives the call: its destructor waits for EndCall
  const char* method_;
  bool write_;
  Req req_;
  Resp resp_;
  EtcdClient::Invoker<Req, Resp> invoke_;
  Callback<Resp> done_;
  CallOptions options_;
  std::optional<std::size_t> pinned_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  Clock::time_point deadline_;
  std::size_t first_ = 0, tried_ = 0;
  std::vector<AttemptError> attempts_;
};

Result<std::shared_ptr<EtcdClient>> EtcdClient::Create(EtcdClientOptions options) {
  if (options.endpoints.empty()) return Status(ErrorCode::kInvalidArgument, "etcd: no endpoints");
  for (const auto& ep : options.endpoints) {
    if (ep.tls != options.endpoints.front().tls)
      return Status(ErrorCode::kInvalidArgument, "etcd: endpoints mix http and https");
  }
  if (options.cert_pem.empty() != options.key_pem.empty())
    return Status(ErrorCode::kInvalidArgument, "etcd: a client certificate needs its key and the other way round");
  if (options.call_timeout.count() <= 0 || options.attempt_timeout.count() <= 0)
    return Status(ErrorCode::kInvalidArgument, "etcd: timeouts must be positive");
  return std::shared_ptr<EtcdClient>(new EtcdClient(std::move(options)));
}

EtcdClient::EtcdClient(EtcdClientOptions options)
    : options_(std::move(options)), io_thread_([rt = runtime_] { rt->io.run(); }) {
  const auto creds = Credentials(options_);
  const auto args = ChannelArgs();
  for (const auto& spec : options_.endpoints) {
    auto ep = std::make_unique<Endpoint>();
    ep->spec = spec;
    ep->channel = grpc::CreateCustomChannel(spec.Target(), creds, args);
    ep->kv = pb::KV::NewStub(ep->channel);
    ep->watch = pb::Watch::NewStub(ep->channel);
    ep->lease = pb::Lease::NewStub(ep->channel);
    ep->cluster = pb::Cluster::NewStub(ep->channel);
    ep->maintenance = pb::Maintenance::NewStub(ep->channel);
    endpoints_.push_back(std::move(ep));
  }
}

EtcdClient::~EtcdClient() {
  {
    std::unique_lock lock(calls_mu_);
    closing_ = true;
    for (auto* ctx : contexts_) ctx->TryCancel();  // callbacks never run inline on the client side
    calls_cv_.wait(lock, [&] { return in_flight_ == 0; });
  }
  // Stream handles hold the client while they run, so by now none is left;
  // finish whatever they posted and stop the thread.
  runtime_->work.reset();
  if (OnIoThread()) {
    spdlog::error("etcd: client destroyed on its own io thread; its thread finishes on its own");
    io_thread_.detach();
  } else {
    io_thread_.join();
  }
}

std::unique_ptr<grpc::ClientContext> EtcdClient::NewContext(std::chrono::milliseconds deadline) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  // etcd's require-leader flag (clientv3.WithRequireLeader): a member without
  // a leader fails the call (and closes streams) instead of waiting.
  ctx->AddMetadata("hasleader", "true");
  if (deadline.count() > 0) ctx->set_deadline(std::chrono::system_clock::now() + deadline);
  return ctx;
}

void EtcdClient::NoteSuccess(std::size_t endpoint) {
  preferred_.store(endpoint);
  std::lock_guard lock(health_mu_);
  health_.ok = true;
  health_.no_quorum = false;
  health_.last_error.clear();
  health_.last_success = std::chrono::system_clock::now();
}

void EtcdClient::NoteFailure(std::size_t endpoint, const Status&) {
  // Move on from this endpoint for later calls, unless another call already did.
  std::size_t expected = endpoint;
  preferred_.compare_exchange_strong(expected, (endpoint + 1) % endpoints_.size());
}

void EtcdClient::NoteCallFailure(const Status& st) {
  std::lock_guard lock(health_mu_);
  health_.ok = false;
  health_.no_quorum = IsNoQuorum(st);
  health_.last_error = st.message();
}

bool EtcdClient::BeginCall() {
  std::lock_guard lock(calls_mu_);
  if (closing_) return false;
  ++in_flight_;
  return true;
}

void EtcdClient::EndCall() {
  std::lock_guard lock(calls_mu_);
  --in_flight_;
  calls_cv_.notify_all();
}

void EtcdClient::Track(grpc::ClientContext* ctx) {
  std::lock_guard lock(calls_mu_);
  contexts_.push_back(ctx);
  if (closing_) ctx->TryCancel();
}

void EtcdClient::Untrack(grpc::ClientContext* ctx) {
  std::lock_guard lock(calls_mu_);
  contexts_.erase(std::remove(contexts_.begin(), contexts_.end(), ctx), contexts_.end());
}

EtcdHealth EtcdClient::Health() const {
  std::lock_guard lock(health_mu_);
  return health_;
}

template <typename Req, typename Resp>
void EtcdClient::Unary(const char* method, bool write, const Req& req, Invoker<Req, Resp> invoke,
                       Callback<Resp> done, CallOptions o, std::optional<std::size_t> pinned) {
  auto call = std::make_shared<UnaryCall<Req, Resp>>(this, method, write, req, invoke, std::move(done), o, pinned);
  call->Start();
}

// The stub methods, one captureless lambda each so the failover loop can
// call any of them on any endpoint.
#define METALPXE_ETCD_INVOKER(Req, Resp, stub, Method)                                                  \
  +[](Endpoint& ep, grpc::ClientContext* ctx, const Req* rq, Resp* rs, std::function<void(grpc::Status)> f) { \
    ep.stub->async()->Method(ctx, rq, rs, std::move(f));                                              \
  }

void EtcdClient::Range(const pb::RangeRequest& req, Callback<pb::RangeResponse> done, CallOptions o) {
  Unary<pb::RangeRequest, pb::RangeResponse>("Range", false, req,
                                             METALPXE_ETCD_INVOKER(pb::RangeRequest, pb::RangeResponse, kv, Range),
                                             std::move(done), o);
}
void EtcdClient::Put(const pb::PutRequest& req, Callback<pb::PutResponse> done, CallOptions o) {
  Unary<pb::PutRequest, pb::PutResponse>("Put", true, req,
                                         METALPXE_ETCD_INVOKER(pb::PutRequest, pb::PutResponse, kv, Put),
                                         std::move(done), o);
}
void EtcdClient::DeleteRange(const pb::DeleteRangeRequest& req, Callback<pb::DeleteRangeResponse> done,
                             CallOptions o) {
  Unary<pb::DeleteRangeRequest, pb::DeleteRangeResponse>(
      "DeleteRange", true, req,
      METALPXE_ETCD_INVOKER(pb::DeleteRangeRequest, pb::DeleteRangeResponse, kv, DeleteRange), std::move(done), o);
}
void EtcdClient::Txn(const pb::TxnRequest& req, Callback<pb::TxnResponse> done, CallOptions o) {
  // A transaction made only of reads may always be repeated.
  bool write = false;
  for (const auto* ops : {&req.success(), &req.failure()})
    for (const auto& op : *ops) write = write || !op.has_request_range();
  Unary<pb::TxnRequest, pb::TxnResponse>("Txn", write, req,
                                         METALPXE_ETCD_INVOKER(pb::TxnRequest, pb::TxnResponse, kv, Txn),
                                         std::move(done), o);
}
void EtcdClient::Compact(const pb::CompactionRequest& req, Callback<pb::CompactionResponse> done, CallOptions o) {
  Unary<pb::CompactionRequest, pb::CompactionResponse>(
      "Compact", true, req, METALPXE_ETCD_INVOKER(pb::CompactionRequest, pb::CompactionResponse, kv, Compact),
      std::move(done), o);
}
void EtcdClient::LeaseGrant(const pb::LeaseGrantRequest& req, Callback<pb::LeaseGrantResponse> done,
                            CallOptions o) {
  Unary<pb::LeaseGrantRequest, pb::LeaseGrantResponse>(
      "LeaseGrant", true, req,
      METALPXE_ETCD_INVOKER(pb::LeaseGrantRequest, pb::LeaseGrantResponse, lease, LeaseGrant), std::move(done), o);
}
void EtcdClient::LeaseRevoke(const pb::LeaseRevokeRequest& req, Callback<pb::LeaseRevokeResponse> done,
                             CallOptions o) {
  o.repeat_safe = true;  // revoking twice answers "lease not found": harmless
  Unary<pb::LeaseRevokeRequest, pb::LeaseRevokeResponse>(
      "LeaseRevoke", true, req,
      METALPXE_ETCD_INVOKER(pb::LeaseRevokeRequest, pb::LeaseRevokeResponse, lease, LeaseRevoke), std::move(done),
      o);
}
void EtcdClient::LeaseTimeToLive(const pb::LeaseTimeToLiveRequest& req, Callback<pb::LeaseTimeToLiveResponse> done,
                                 CallOptions o) {
  Unary<pb::LeaseTimeToLiveRequest, pb::LeaseTimeToLiveResponse>(
      "LeaseTimeToLive", false, req,
      METALPXE_ETCD_INVOKER(pb::LeaseTimeToLiveRequest, pb::LeaseTimeToLiveResponse, lease, LeaseTimeToLive),
      std::move(done), o);
}
void EtcdClient::MemberList(const pb::MemberListRequest& req, Callback<pb::MemberListResponse> done,
                            CallOptions o) {
  Unary<pb::MemberListRequest, pb::MemberListResponse>(
      "MemberList", false, req,
      METALPXE_ETCD_INVOKER(pb::MemberListRequest, pb::MemberListResponse, cluster, MemberList), std::move(done), o);
}
void EtcdClient::MemberStatus(std::size_t endpoint, Callback<pb::StatusResponse> done, CallOptions o) {
  if (endpoint >= endpoints_.size()) {
    done(Status(ErrorCode::kInvalidArgument, "etcd: no endpoint " + std::to_string(endpoint)));
    return;
  }
  Unary<pb::StatusRequest, pb::StatusResponse>(
      "Status", false, pb::StatusRequest(),
      METALPXE_ETCD_INVOKER(pb::StatusRequest, pb::StatusResponse, maintenance, Status), std::move(done), o,
      endpoint);
}

#undef METALPXE_ETCD_INVOKER

Result<pb::RangeResponse> EtcdClient::RangeSync(const pb::RangeRequest& req, CallOptions o) {
  return Wait<pb::RangeResponse>([&](auto cb) { Range(req, std::move(cb), o); });
}
Result<pb::PutResponse> EtcdClient::PutSync(const pb::PutRequest& req, CallOptions o) {
  return Wait<pb::PutResponse>([&](auto cb) { Put(req, std::move(cb), o); });
}
Result<pb::DeleteRangeResponse> EtcdClient::DeleteRangeSync(const pb::DeleteRangeRequest& req, CallOptions o) {
  return Wait<pb::DeleteRangeResponse>([&](auto cb) { DeleteRange(req, std::move(cb), o); });
}
Result<pb::TxnResponse> EtcdClient::TxnSync(const pb::TxnRequest& req, CallOptions o) {
  return Wait<pb::TxnResponse>([&](auto cb) { Txn(req, std::move(cb), o); });
}
Result<pb::CompactionResponse> EtcdClient::CompactSync(const pb::CompactionRequest& req, CallOptions o) {
  return Wait<pb::CompactionResponse>([&](auto cb) { Compact(req, std::move(cb), o); });
}
Result<pb::LeaseGrantResponse> EtcdClient::LeaseGrantSync(const pb::LeaseGrantRequest& req, CallOptions o) {
  return Wait<pb::LeaseGrantResponse>([&](auto cb) { LeaseGrant(req, std::move(cb), o); });
}
Result<pb::LeaseRevokeResponse> EtcdClient::LeaseRevokeSync(const pb::LeaseRevokeRequest& req, CallOptions o) {
  return Wait<pb::LeaseRevokeResponse>([&](auto cb) { LeaseRevoke(req, std::move(cb), o); });
}
Result<pb::LeaseTimeToLiveResponse> EtcdClient::LeaseTimeToLiveSync(const pb::LeaseTimeToLiveRequest& req,
                                                                    CallOptions o) {
  return Wait<pb::LeaseTimeToLiveResponse>([&](auto cb) { LeaseTimeToLive(req, std::move(cb), o); });
}
Result<pb::MemberListResponse> EtcdClient::MemberListSync(const pb::MemberListRequest& req, CallOptions o) {
  return Wait<pb::MemberListResponse>([&](auto cb) { MemberList(req, std::move(cb), o); });
}
Result<pb::StatusResponse> EtcdClient::MemberStatusSync(std::size_t endpoint, CallOptions o) {
  return Wait<pb::StatusResponse>([&](auto cb) { MemberStatus(endpoint, std::move(cb), o); });
}

}  // namespace metalpxe::etcd
