#pragma once
// EtcdClient: metalpxe's own client for etcd's v3 gRPC API (no etcd C++
// client is packaged for Debian), over the project's gRPC and Protobuf with
// etcd's message definitions (etcd/proto/).
//
// - Several endpoints, one channel each. A call goes to the endpoint that
//   answered last and moves on to the next one when an endpoint is
//   unreachable or has no leader; a write moves on only when it surely was
//   not applied, unless the caller says it is safe to repeat (a
//   compare-and-swap the caller re-checks). Learning the leader is not
//   needed: any member forwards to it.
// - Every call carries etcd's "hasleader" metadata, so a member cut off from
//   the quorum answers "no leader" at once instead of letting the call hang,
//   and a deadline (CallOptions::timeout, else the client's call_timeout).
// - Failures come back as Status; a cluster without quorum gets its own
//   message (etcd_errors.h: IsNoQuorum), and Health() keeps the last outcome
//   for health checks and logs.
// - TLS with a CA and an optional client certificate, all PEM.
//
// Nothing here blocks the caller: each call takes a callback, run on a gRPC
// thread once the call is over (post it to your own loop; do not block in
// it). The *Sync twins wait for that callback and are for threads that may
// block (the store's writer, loads at start-up, tests), never an event loop
// or a callback of this client. Streams (watch, lease keep-alive, election)
// run their state on the client's own thread, io().
//
// Destroying the client cancels the calls in flight and waits for their
// callbacks. A callback must therefore not own the client (hold its
// shared_ptr): gRPC's callback threads must never be the ones that destroy
// its channels.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <grpcpp/grpcpp.h>

#include "core/result.h"
#include "core/store_config.h"
#include "etcd/proto/etcdserverpb/rpc.grpc.pb.h"

namespace metalpxe::etcd {

namespace pb = ::etcdserverpb;

struct EtcdClientOptions {
  std::vector<EtcdEndpoint> endpoints;  // all http or all https
  std::string ca_pem;    // https: the CA that signed the members' certificates ("" = system roots)
  std::string cert_pem;  // https: client certificate and key, both or neither
  std::string key_pem;
  // A whole call, every endpoint it tries included.
  std::chrono::milliseconds call_timeout{5000};
  // One endpoint's share of it: a member that does not answer in this time
  // is left for the next one (for reads and repeat-safe writes).
  std::chrono::milliseconds attempt_timeout{2000};
};

// Options from the appliance config: reads the PEM files it names.
Result<EtcdClientOptions> ClientOptionsFromConfig(const StoreConfig& config);

struct CallOptions {
  std::chrono::milliseconds timeout{0};  // 0: the client's call_timeout
  // Writes only: the call may be sent again to another endpoint after a
  // timeout or a broken connection, although the first attempt may have been
  // applied. True for compare-and-swap transactions whose caller detects a
  // repeat; reads are always repeatable.
  bool repeat_safe = false;
};

template <typename T>
using Callback = std::function<void(Result<T>)>;

// The last thing the client learnt about the cluster, for health checks.
struct EtcdHealth {
  bool ok = true;                 // the last call succeeded
  bool no_quorum = false;         // the last failure was "no quorum"
  std::string last_error;         // "" while ok
  std::chrono::system_clock::time_point last_success{};
};

class EtcdClient {
 public:
  static Result<std::shared_ptr<EtcdClient>> Create(EtcdClientOptions options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // KV
  void Range(const pb::RangeRequest& req, Callback<pb::RangeResponse> done, CallOptions o = {});
  void Put(const pb::PutRequest& req, Callback<pb::PutResponse> done, CallOptions o = {});
  void DeleteRange(const pb::DeleteRangeRequest& req, Callback<pb::DeleteRangeResponse> done, CallOptions o = {});
  void Txn(const pb::TxnRequest& req, Callback<pb::TxnResponse> done, CallOptions o = {});
  void Compact(const pb::CompactionRequest& req, Callback<pb::CompactionResponse> done, CallOptions o = {});
  // Lease
  void LeaseGrant(const pb::LeaseGrantRequest& req, Callback<pb::LeaseGrantResponse> done, CallOptions o = {});
  void LeaseRevoke(const pb::LeaseRevokeRequest& req, Callback<pb::LeaseRevokeResponse> done, CallOptions o = {});
  void LeaseTimeToLive(const pb::LeaseTimeToLiveRequest& req, Callback<pb::LeaseTimeToLiveResponse> done,
                       CallOptions o = {});
  // Cluster and maintenance. MemberStatus asks one endpoint's member about
  // itself (no failover: the answer is about that member).
  void MemberList(const pb::MemberListRequest& req, Callback<pb::MemberListResponse> done, CallOptions o = {});
  void MemberStatus(std::size_t endpoint, Callback<pb::StatusResponse> done, CallOptions o = {});

  // Blocking twins (see the header comment for where they may be used).
  Result<pb::RangeResponse> RangeSync(const pb::RangeRequest& req, CallOptions o = {});
  Result<pb::PutResponse> PutSync(const pb::PutRequest& req, CallOptions o = {});
  Result<pb::DeleteRangeResponse> DeleteRangeSync(const pb::DeleteRangeRequest& req, CallOptions o = {});
  Result<pb::TxnResponse> TxnSync(const pb::TxnRequest& req, CallOptions o = {});
  Result<pb::CompactionResponse> CompactSync(const pb::CompactionRequest& req, CallOptions o = {});
  Result<pb::LeaseGrantResponse> LeaseGrantSync(const pb::LeaseGrantRequest& req, CallOptions o = {});
  Result<pb::LeaseRevokeResponse> LeaseRevokeSync(const pb::LeaseRevokeRequest& req, CallOptions o = {});
  Result<pb::LeaseTimeToLiveResponse> LeaseTimeToLiveSync(const pb::LeaseTimeToLiveRequest& req, CallOptions o = {});
  Result<pb::MemberListResponse> MemberListSync(const pb::MemberListRequest& req, CallOptions o = {});
  Result<pb::StatusResponse> MemberStatusSync(std::size_t endpoint, CallOptions o = {});

  EtcdHealth Health() const;
  const EtcdClientOptions& options() const { return options_; }
  std::size_t endpoint_count() const { return endpoints_.size(); }

  // --- for the stream classes (watch, keep-alive, election) ---------------
  struct Endpoint {
    EtcdEndpoint spec;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<pb::KV::Stub> kv;
    std::unique_ptr<pb::Watch::Stub> watch;
    std::unique_ptr<pb::Lease::Stub> lease;
    std::unique_ptr<pb::Cluster::Stub> cluster;
    std::unique_ptr<pb::Maintenance::Stub> maintenance;
  };
  Endpoint& endpoint(std::size_t i) { return *endpoints_[i]; }
  // The endpoint to try first; NoteSuccess/NoteFailure move it along.
  std::size_t preferred_endpoint() const { return preferred_.load(); }
  void NoteSuccess(std::size_t endpoint);
  void NoteFailure(std::size_t endpoint, const Status& st);
  void NoteCallFailure(const Status& st);
  // A context with the client's metadata; deadline 0 = none (streams).
  std::unique_ptr<grpc::ClientContext> NewContext(std::chrono::milliseconds deadline) const;
  // The client's own thread: stream state machines and their timers.
  boost::asio::io_context& io() { return runtime_->io; }
  bool OnIoThread() const { return std::this_thread::get_id() == io_thread_.get_id(); }

  // One unary method of one endpoint's stubs, as the failover loop calls it.
  template <typename Req, typename Resp>
  using Invoker = void (*)(Endpoint&, grpc::ClientContext*, const Req*, Resp*, std::function<void(grpc::Status)>);

 private:
  explicit EtcdClient(EtcdClientOptions options);
  template <typename Req, typename Resp>
  void Unary(const char* method, bool write, const Req& req, Invoker<Req, Resp> invoke, Callback<Resp> done,
             CallOptions o, std::optional<std::size_t> pinned = std::nullopt);
  template <typename Req, typename Resp>
  friend class UnaryCall;
  // Calls in flight: counted so the destructor can cancel and wait for them.
  bool BeginCall();
  void EndCall();
  void Track(grpc::ClientContext* ctx);
  void Untrack(grpc::ClientContext* ctx);

  std::mutex calls_mu_;
  std::condition_variable calls_cv_;
  std::size_t in_flight_ = 0;
  bool closing_ = false;
  std::vector<grpc::ClientContext*> contexts_;

  EtcdClientOptions options_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::atomic<std::size_t> preferred_{0};

  mutable std::mutex health_mu_;
  EtcdHealth health_;

  // The io thread's context, shared with the thread itself: should the last
  // owner let go of the client on that very thread (a misuse, but not a
  // crash), the thread finishes on a context that still exists.
  struct Runtime {
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{boost::asio::make_work_guard(io)};
  };
  std::shared_ptr<Runtime> runtime_ = std::make_shared<Runtime>();
  std::thread io_thread_;  // last: starts once everything above exists
};

// [prefix, PrefixEnd(prefix)) is every key that starts with prefix (etcd's
// range_end convention; "\0" when the prefix is all 0xff bytes).
std::string PrefixEnd(std::string_view prefix);

}  // namespace metalpxe::etcd
