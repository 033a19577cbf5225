#include "api/management/management_service.h"

#include <chrono>
#include <condition_variable>
#include <mutex>

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

#include "api/management/client_certificates.h"
#include "api/management/grpc_status.h"
#include "api/management/stream_queue.h"
#include "api/management/x509_issuer.h"
#include "api/running_grpc_server.h"
#include "core/api_roles.h"
#include "core/log.h"
#include "metalpxe/v1/management.grpc.pb.h"

namespace metalpxe {
namespace {

namespace v1 = metalpxe::v1;
using namespace std::chrono_literals;

// How long a stream handler sleeps between looks at cancellation/shutdown.
constexpr auto kSlice = 200ms;
// Per-stream buffer between the backend's callback and the client. A client
// that falls this far behind loses the stream rather than our memory.
constexpr std::size_t kEventQueue = 4096;
constexpr std::size_t kLogQueue = 8192;
constexpr std::size_t kProgressQueue = 64;
constexpr std::uint32_t kDefaultLogTail = 100;
constexpr std::uint32_t kMaxLogTail = 100000;

constexpr int kDefaultClientValidDays = 365;
// Longest piece of a request quoted in an event (names and MACs are short;
// anything longer is not worth a megabyte of history).
constexpr std::size_t kMaxQuoted = 80;

// Who is calling: read from the client certificate the TLS handshake
// verified, on every call.
struct CallerIdentity {
  std::string name;  // CN
  std::optional<ApiRole> role;
  std::string serial;
  std::string peer;  // ip:port, for the log
};

std::string QuotedForEvent(const std::string& text) {
  return text.size() <= kMaxQuoted ? text : text.substr(0, kMaxQuoted) + "...";
}

v1::ClientConfigEntry ToProtoClientEntry(const IssuedClientConfig& e) {
  v1::ClientConfigEntry out;
  out.set_name(e.name);
  out.set_role(std::string(ApiRoleName(e.role)));
  out.set_serial(e.serial);
  out.set_issued_unix(e.issued_unix);
  out.set_expires_unix(e.expires_unix);
  out.set_issued_by(e.issued_by);
  out.set_revoked_unix(e.revoked_unix);
  out.set_revoked_by(e.revoked_by);
  return out;
}

}  // namespace

class ManagementServer::Service final : public v1::Management::Service {
 public:
  Service(ManagementBackend& backend, ClientCertificates& clients, std::string ca_pem)
      : backend_(backend), clients_(clients), clients_ca_pem_(std::move(ca_pem)) {}

  void Stop() { stopping_.store(true); }
  void Resume() { stopping_.store(false); }

  grpc::Status ListMachines(grpc::ServerContext* context, const v1::ListMachinesRequest*,
                            v1::ListMachinesResponse* response) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    for (auto& m : backend_.ListMachines()) *response->add_machines() = std::move(m);
    return grpc::Status::OK;
  }

  grpc::Status GetMachine(grpc::ServerContext* context, const v1::GetMachineRequest* request,
                          v1::Machine* response) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    if (request->machine().empty()) return Invalid("machine (name or MAC) is required");
    return Fill(backend_.GetMachine(request->machine()), response);
  }

  grpc::Status AcceptMachine(grpc::ServerContext* context, const v1::AcceptMachineRequest* request,
                             v1::Machine* response) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    if (request->mac().empty() || request->name().empty() || request->role().empty()) {
      return Invalid("mac, name and role are required");
    }
    return Audited(caller, __func__, request->mac(),
                   "accept " + QuotedForEvent(request->mac()) + " as " + QuotedForEvent(request->name()) + " (" +
                       QuotedForEvent(request->role()) + ")",
                   Fill(backend_.AcceptMachine(*request), response));
  }

  grpc::Status ExportMachines(grpc::ServerContext* context, const v1::ExportMachinesRequest*,
                              v1::ExportMachinesResponse* response) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    auto yaml = backend_.ExportMachinesYaml();
    if (!yaml.ok()) return ToGrpcStatus(yaml.status());
    response->set_yaml(std::move(yaml).value());
    return grpc::Status::OK;
  }

  grpc::Status Reinstall(grpc::ServerContext* context, const v1::ReinstallRequest* request,
                         v1::Machine* response) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    if (request->machine().empty()) return Invalid("machine (name or MAC) is required");
    return Audited(caller, __func__, request->machine(),
                   "reinstall " + QuotedForEvent(request->machine()) + (request->wipe() ? " (wipe)" : ""),
                   Fill(backend_.Reinstall(request->machine(), request->wipe()), response));
  }

  grpc::Status Power(grpc::ServerContext* context, const v1::PowerRequest* request,
                     v1::PowerResponse* response) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    if (request->machine().empty()) return Invalid("machine (name or MAC) is required");
    if (!v1::PowerRequest::Action_IsValid(request->action())) return Invalid("unknown power action");
    const grpc::Status status = PowerCall(context, request, response);
    // Asking for the power state changes nothing: not an event.
    if (request->action() == v1::PowerRequest::STATUS) return status;
    return Audited(caller, __func__, request->machine(),
                   "power " + v1::PowerRequest::Action_Name(request->action()) + " " +
                       QuotedForEvent(request->machine()),
                   status);
  }

  grpc::Status PowerCall(grpc::ServerContext* context, const v1::PowerRequest* request, v1::PowerResponse* response) {
    // The backend answers on its own thread, possibly after we gave up on a
    // cancelled client: the shared state outlives this handler.
    struct Pending {
      std::mutex mu;
      std::condition_variable cv;
      std::optional<Result<std::string>> result;
    };
    auto pending = std::make_shared<Pending>();
    backend_.Power(request->machine(), request->action(), [pending](Result<std::string> r) {
      {
        std::lock_guard lock(pending->mu);
        pending->result.emplace(std::move(r));
      }
      pending->cv.notify_all();
    });
    std::unique_lock lock(pending->mu);
    while (!pending->result) {
      if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      if (stopping_.load()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "metalpxed is shutting down");
      pending->cv.wait_for(lock, kSlice);
    }
    if (!pending->result->ok()) return ToGrpcStatus(pending->result->status());
    response->set_power_state(pending->result->value());
    return grpc::Status::OK;
  }

  grpc::Status WatchEvents(grpc::ServerContext* context, const v1::WatchEventsRequest* request,
                           grpc::ServerWriter<v1::Event>* writer) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    const std::string machine = request->machine();
    // Subscribe before reading history so nothing falls between the two;
    // the overlap is removed by event id.
    std::shared_ptr<StreamQueue<v1::Event>> queue;
    int sub = -1;
    if (request->follow()) {
      queue = std::make_shared<StreamQueue<v1::Event>>(kEventQueue);
      sub = backend_.SubscribeEvents([queue, machine](const v1::Event& e) {
        if (machine.empty() || e.machine() == machine) queue->Push(e);
      });
    }
    struct Unsub {
      ManagementBackend& b;
      int id;
      ~Unsub() {
        if (id >= 0) b.UnsubscribeEvents(id);
      }
    } unsub{backend_, sub};

    std::int64_t last_id = -1;
    for (const auto& e : backend_.Events(request->since_unix_ms(), machine)) {
      if (!writer->Write(e)) return grpc::Status::OK;  // client gone
      last_id = std::max<std::int64_t>(last_id, e.id());
    }
    if (!request->follow()) return grpc::Status::OK;
    while (!context->IsCancelled() && !stopping_.load()) {
      if (queue->overflowed()) {
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "events were dropped because this client reads too slowly; watch again with --since");
      }
      auto e = queue->Pop(kSlice);
      if (!e || e->id() <= last_id) continue;
      last_id = e->id();
      if (!writer->Write(*e)) break;
    }
    return grpc::Status::OK;
  }

  grpc::Status KernelLogs(grpc::ServerContext* context, const v1::KernelLogsRequest* request,
                          grpc::ServerWriter<v1::LogLine>* writer) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    if (request->machine().empty()) return Invalid("machine (name or MAC) is required");
    std::shared_ptr<StreamQueue<v1::LogLine>> queue;
    std::uint64_t sub = 0;
    bool subscribed = false;
    if (request->follow()) {
      queue = std::make_shared<StreamQueue<v1::LogLine>>(kLogQueue);
      auto id = backend_.SubscribeKernelLogs(request->machine(), [queue](const v1::LogLine& l) { queue->Push(l); });
      if (!id.ok()) return ToGrpcStatus(id.status());
      sub = *id;
      subscribed = true;
    }
    struct Unsub {
      ManagementBackend& b;
      bool active;
      std::uint64_t id;
      ~Unsub() {
        if (active) b.UnsubscribeKernelLogs(id);
      }
    } unsub{backend_, subscribed, sub};

    std::uint32_t tail = request->tail() == 0 ? kDefaultLogTail : std::min(request->tail(), kMaxLogTail);
    auto history = backend_.KernelLogTail(request->machine(), tail);
    if (!history.ok()) return ToGrpcStatus(history.status());
    for (const auto& line : *history) {
      if (!writer->Write(line)) return grpc::Status::OK;
    }
    if (!request->follow()) return grpc::Status::OK;
    // Lines have no ids: lines that arrived between subscribing and reading
    // the tail are in both; skip the queue up to the tail's last line.
    std::optional<v1::LogLine> skip_through;
    if (!history->empty()) skip_through = history->back();
    bool first = true;
    while (!context->IsCancelled() && !stopping_.load()) {
      if (queue->overflowed()) {
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "log lines were dropped because this client reads too slowly");
      }
      auto line = queue->Pop(kSlice);
      if (!line) {
        first = false;  // the overlap, if any, was already queued
        continue;
      }
      if (first && skip_through && line->time_unix_ms() <= skip_through->time_unix_ms()) {
        if (line->time_unix_ms() == skip_through->time_unix_ms() && line->message() == skip_through->message()) {
          skip_through.reset();
        }
        continue;
      }
      first = false;
      if (!writer->Write(*line)) break;
    }
    return grpc::Status::OK;
  }

  grpc::Status Timeline(grpc::ServerContext* context, const v1::TimelineRequest* request,
                        v1::TimelineResponse* response) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    if (request->machine().empty()) return Invalid("machine (name or MAC) is required");
    auto t = backend_.Timeline(request->machine(), request->limit());
    if (!t.ok()) return ToGrpcStatus(t.status());
    *response = std::move(t).value();
    return grpc::Status::OK;
  }

  grpc::Status WatchTimeline(grpc::ServerContext* context, const v1::TimelineRequest* request,
                             grpc::ServerWriter<v1::TimelineEntry>* writer) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    if (request->machine().empty()) return Invalid("machine (name or MAC) is required");
    // Subscribe before reading history so nothing falls between the two;
    // the overlap is removed by (seq, repeats): an entry sent again with a
    // higher repeat count is news, the same one twice is not.
    auto queue = std::make_shared<StreamQueue<v1::TimelineEntry>>(kEventQueue);
    auto sub = backend_.SubscribeTimeline(request->machine(), [queue](const v1::TimelineEntry& e) { queue->Push(e); });
    if (!sub.ok()) return ToGrpcStatus(sub.status());
    struct Unsub {
      ManagementBackend& b;
      int id;
      ~Unsub() { b.UnsubscribeTimeline(id); }
    } unsub{backend_, *sub};
    auto history = backend_.Timeline(request->machine(), request->limit());
    if (!history.ok()) return ToGrpcStatus(history.status());
    std::int64_t last_seq = -1;
    std::uint32_t last_repeats = 0;
    for (const auto& e : history->entries()) {
      if (!writer->Write(e)) return grpc::Status::OK;
      last_seq = e.seq();
      last_repeats = e.repeats();
    }
    while (!context->IsCancelled() && !stopping_.load()) {
      if (queue->overflowed()) {
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "timeline entries were dropped because this client reads too slowly; watch again");
      }
      auto e = queue->Pop(kSlice);
      if (!e || e->seq() < last_seq || (e->seq() == last_seq && e->repeats() <= last_repeats)) continue;
      last_seq = e->seq();
      last_repeats = e->repeats();
      if (!writer->Write(*e)) break;
    }
    return grpc::Status::OK;
  }

  grpc::Status ListLeases(grpc::ServerContext* context, const v1::ListLeasesRequest*,
                          v1::ListLeasesResponse* response) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    for (auto& l : backend_.Leases()) *response->add_leases() = std::move(l);
    return grpc::Status::OK;
  }

  grpc::Status ListImages(grpc::ServerContext* context, const v1::ListImagesRequest*,
                          v1::ListImagesResponse* response) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    for (auto& i : backend_.Images()) *response->add_images() = std::move(i);
    return grpc::Status::OK;
  }

  grpc::Status PullImage(grpc::ServerContext* context, const v1::PullImageRequest* request,
                         grpc::ServerWriter<v1::PullProgress>* writer) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    if (request->profile().empty()) return Invalid("profile is required");
    return Audited(caller, __func__, "", "pull boot assets of profile " + QuotedForEvent(request->profile()),
                   PullImageCall(context, request, writer));
  }

  grpc::Status PullImageCall(grpc::ServerContext* context, const v1::PullImageRequest* request,
                             grpc::ServerWriter<v1::PullProgress>* writer) {
    struct Shared {
      StreamQueue<v1::PullProgress> queue{kProgressQueue};
      std::mutex mu;
      Status result;
    };
    auto shared = std::make_shared<Shared>();
    backend_.PullImage(
        request->profile(), [shared](const v1::PullProgress& p) { shared->queue.Push(p, /*replace_last=*/true); },
        [shared](const Status& s) {
          {
            std::lock_guard lock(shared->mu);
            shared->result = s;
          }
          shared->queue.Close();
        });
    // The download goes on if the client leaves; only the progress stops.
    while (!context->IsCancelled() && !stopping_.load()) {
      auto p = shared->queue.Pop(kSlice);
      if (p) {
        if (!writer->Write(*p)) return grpc::Status::OK;
        continue;
      }
      if (shared->queue.drained_and_closed()) {
        std::lock_guard lock(shared->mu);
        if (!shared->result.ok()) return ToGrpcStatus(shared->result);
        v1::PullProgress done;
        done.set_done(true);
        writer->Write(done);
        return grpc::Status::OK;
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status Version(grpc::ServerContext* context, const v1::VersionRequest*,
                       v1::VersionResponse* response) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    response->set_version(backend_.Version());
    return grpc::Status::OK;
  }

  grpc::Status Health(grpc::ServerContext* context, const v1::HealthRequest*, v1::HealthResponse* response) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    *response = backend_.Health();
    return grpc::Status::OK;
  }

  grpc::Status ListClusters(grpc::ServerContext* context, const v1::ListClustersRequest*,
                            v1::ListClustersResponse* response) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    for (auto& c : backend_.ListClusters()) *response->add_clusters() = std::move(c);
    return grpc::Status::OK;
  }

  grpc::Status GetClusterStatus(grpc::ServerContext* context, const v1::GetClusterStatusRequest* request,
                                v1::ClusterStatus* response) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    if (request->cluster().empty()) return Invalid("cluster is required");
    return Fill(backend_.GetClusterStatus(request->cluster()), response);
  }

  grpc::Status GetKubeconfig(grpc::ServerContext* context, const v1::GetKubeconfigRequest* request,
                             v1::Credential* response) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    if (request->cluster().empty()) return Invalid("cluster is required");
    // Audit who took a credential; the credential itself is never logged.
    spdlog::info("management API: {}@{} fetches the kubeconfig of cluster {}", caller.name, caller.peer,
                 QuotedForEvent(request->cluster()));
    return FillSecret(backend_.Kubeconfig(request->cluster()), response);
  }

  grpc::Status GetTalosconfig(grpc::ServerContext* context, const v1::GetTalosconfigRequest* request,
                              v1::Credential* response) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    if (request->cluster().empty()) return Invalid("cluster is required");
    spdlog::info("management API: {}@{} fetches the talosconfig of cluster {}", caller.name, caller.peer,
                 QuotedForEvent(request->cluster()));
    return FillSecret(backend_.Talosconfig(request->cluster()), response);
  }

  grpc::Status UpgradeCluster(grpc::ServerContext* context, const v1::UpgradeClusterRequest* request,
                              grpc::ServerWriter<v1::UpgradeProgress>* writer) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    if (request->cluster().empty()) return Invalid("cluster is required");
    if (request->version().empty()) return Invalid("version is required");
    return Audited(caller, __func__, "",
                   "upgrade cluster " + QuotedForEvent(request->cluster()) + " to " +
                       QuotedForEvent(request->version()),
                   UpgradeClusterCall(context, request, writer));
  }

  grpc::Status UpgradeClusterCall(grpc::ServerContext* context, const v1::UpgradeClusterRequest* request,
                                  grpc::ServerWriter<v1::UpgradeProgress>* writer) {
    struct Shared {
      StreamQueue<v1::UpgradeProgress> queue{kProgressQueue};
      std::mutex mu;
      Status result;
    };
    auto shared = std::make_shared<Shared>();
    backend_.UpgradeCluster(
        *request, [shared](const v1::UpgradeProgress& p) { shared->queue.Push(p); },
        [shared](const Status& s) {
          {
            std::lock_guard lock(shared->mu);
            shared->result = s;
          }
          shared->queue.Close();
        });
    // The upgrade goes on if the client leaves (or falls behind: a node's
    // Upgrade is never left half-made); only the progress stops.
    while (!context->IsCancelled() && !stopping_.load()) {
      auto p = shared->queue.Pop(kSlice);
      if (p) {
        if (!writer->Write(*p)) return grpc::Status::OK;
        continue;
      }
      if (shared->queue.overflowed()) return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "progress lost");
      if (shared->queue.drained_and_closed()) {
        std::lock_guard lock(shared->mu);
        return shared->result.ok() ? grpc::Status::OK : ToGrpcStatus(shared->result);
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status IssueClientConfig(grpc::ServerContext* context, const v1::IssueClientConfigRequest* request,
                                 v1::IssueClientConfigResponse* response) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    auto role = ParseApiRole(request->role());
    if (!role) return Invalid("role must be viewer, operator or admin");
    // Capped before the cast; ClientCertificates refuses more than 10 years.
    const std::uint32_t asked = std::min<std::uint32_t>(request->valid_days(), 1u << 20);
    const int days = asked == 0 ? kDefaultClientValidDays : static_cast<int>(asked);
    auto issued = clients_.Issue(request->name(), *role, days, caller.name);
    std::string what = "issue client config " + QuotedForEvent(request->name()) + " (" + request->role() + ")";
    if (!issued.ok()) return Audited(caller, __func__, "", what, ToGrpcStatus(issued.status()));
    *response->mutable_entry() = ToProtoClientEntry(issued->entry);
    response->set_ca(clients_ca_pem_);
    response->set_crt(issued->pair.cert_pem);
    response->set_key(issued->pair.key_pem.Reveal());
    return Audited(caller, __func__, "", what + ", serial " + issued->entry.serial, grpc::Status::OK);
  }

  grpc::Status ListClientConfigs(grpc::ServerContext* context, const v1::ListClientConfigsRequest*,
                                 v1::ListClientConfigsResponse* response) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    for (const auto& e : clients_.List()) *response->add_clients() = ToProtoClientEntry(e);
    return grpc::Status::OK;
  }

  grpc::Status RevokeClientConfig(grpc::ServerContext* context, const v1::RevokeClientConfigRequest* request,
                                  v1::ClientConfigEntry* response) override {
    CallerIdentity caller;
    if (auto denied = Authorize(context, __func__, &caller); !denied.ok()) return denied;
    if (request->client().empty()) return Invalid("client (name or serial) is required");
    const std::string what = "revoke client config " + QuotedForEvent(request->client());
    auto revoked = clients_.Revoke(request->client(), caller.name, caller.serial);
    if (!revoked.ok()) return Audited(caller, __func__, "", what, ToGrpcStatus(revoked.status()));
    *response = ToProtoClientEntry(*revoked);
    return Audited(caller, __func__, "", what + ", serial " + revoked->serial, grpc::Status::OK);
  }

 private:
  static grpc::Status Invalid(const std::string& message) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
  }
  template <typename T>
  static grpc::Status Fill(Result<T> result, T* response) {
    if (!result.ok()) return ToGrpcStatus(result.status());
    *response = std::move(result).value();
    return grpc::Status::OK;
  }

  static grpc::Status FillSecret(Result<Secret> result, v1::Credential* response) {
    if (!result.ok()) return ToGrpcStatus(result.status());
    response->set_data(result->Reveal());
    return grpc::Status::OK;
  }

  // Every handler's first line: who calls, is the certificate revoked, and
  // does its role allow `rpc` (core/api_roles: the table)? Refusals name the
  // role the call needs; refused state-changing calls are recorded too.
  grpc::Status Authorize(grpc::ServerContext* context, std::string_view rpc, CallerIdentity* caller) {
    caller->peer = context->peer();
    std::string pem;
    if (auto auth = context->auth_context()) {
      for (const auto& v : auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME)) pem.assign(v.data(), v.size());
    }
    auto id = ReadCertificateIdentity(pem);
    if (!id.ok()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no readable client certificate on this call");
    }
    caller->name = id->common_name;
    caller->serial = id->serial;
    caller->role = ApiRoleFromOrganizations(id->organizations);
    if (auto revoked = clients_.CheckNotRevoked(id->serial); !revoked.ok()) {
      spdlog::warn("management API: {}@{} refused {}: {}", caller->name, caller->peer, rpc, revoked.message());
      if (RuleForRpc(rpc).changes_state) {
        backend_.RecordApiCall({caller->name, std::string(rpc), "",
                                caller->name + ": refused " + std::string(rpc) + ": certificate revoked"});
      }
      return ToGrpcStatus(revoked);
    }
    const ApiDecision decision = DecideApiCall(rpc, caller->role);
    if (decision.allowed) return grpc::Status::OK;
    spdlog::warn("management API: {}@{} refused: {}", caller->name, caller->peer, decision.refusal);
    if (RuleForRpc(rpc).changes_state) {
      backend_.RecordApiCall({caller->name, std::string(rpc), "", caller->name + ": refused: " + decision.refusal});
    }
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, decision.refusal);
  }

  // A state-changing call ended: log it and record it as an event with the
  // caller's name. `what` never holds a secret.
  grpc::Status Audited(const CallerIdentity& caller, std::string_view rpc, const std::string& machine,
                       const std::string& what, grpc::Status status) {
    std::string message = caller.name + ": " + what + ": ";
    message += status.ok() ? "ok" : "failed: " + QuotedForEvent(status.error_message());
    spdlog::info("management API: {}@{} {}", caller.name, caller.peer, message.substr(caller.name.size() + 2));
    backend_.RecordApiCall({caller.name, std::string(rpc), machine, message});
    return status;
  }

  ManagementBackend& backend_;
  ClientCertificates& clients_;
  std::string clients_ca_pem_;
  std::atomic<bool> stopping_{false};
};

struct ManagementServer::GrpcServer {
  RunningGrpcServer server;
};

ManagementServer::ManagementServer(std::string listen, const ApiPki& pki, ManagementBackend& backend)
    : listen_(std::move(listen)),
      pki_(pki),
      clients_(std::make_unique<ClientCertificates>(pki)),
      service_(std::make_unique<Service>(backend, *clients_, pki.ca_cert_pem)) {}

ManagementServer::~ManagementServer() { Shutdown(); }

Status ManagementServer::Start() {
  if (server_) return Status(ErrorCode::kFailedPrecondition, "management API already started");
  if (auto s = clients_->Load(); !s.ok()) return s;
  service_->Resume();  // after a Shutdown, streams may run again
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = pki_.ca_cert_pem;
  ssl.pem_key_cert_pairs.push_back({pki_.server_key_pem.Reveal(), pki_.server_cert_pem});
  int selected_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen_, grpc::SslServerCredentials(ssl), &selected_port);
  builder.RegisterService(service_.get());
  builder.SetMaxReceiveMessageSize(1 << 20);
  // A second metalpxed on the same apiListen must fail, not share the port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  auto server = RunningGrpcServer::Start(builder, "management API");
  if (!server.ok() || selected_port == 0) {
    return Status(ErrorCode::kUnavailable, "management API: cannot listen on " + listen_);
  }
  port_ = static_cast<std::uint16_t>(selected_port);
  server_ = std::make_unique<GrpcServer>();
  server_->server = std::move(server).value();
  spdlog::info("management API listening on {} (port {}, mutual TLS)", listen_, port_);
  return Status::Ok();
}

void ManagementServer::Shutdown() {
  if (!server_) return;
  service_->Stop();  // streams notice within one slice and return
  server_->server.Stop();
  server_.reset();
}

}  // namespace metalpxe
