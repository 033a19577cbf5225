#include "api/event_sink_server.h"

#include <grpcpp/grpcpp.h>

#include <grpcpp/resource_quota.h>

#include "api/admission_listener.h"
#include "api/running_grpc_server.h"
#include "api/proto/events/events.grpc.pb.h"
#include "api/talos_event_decode.h"
#include "core/fd_limit.h"
#include "core/log.h"

namespace metalpxe {

class EventSinkServer::Service final : public events::EventSinkService::Service {
 public:
  explicit Service(Callback cb) : callback_(std::move(cb)) {}

  grpc::Status Publish(grpc::ServerContext* context, const events::EventRequest* request,
                       events::EventResponse* /*response*/) override {
    received_.fetch_add(1, std::memory_order_relaxed);
    auto peer = ParseGrpcPeer(context->peer());
    if (!peer) {
      // Not the sender's fault and not worth a retry: accept and drop.
      no_ipv4_peer_.fetch_add(1, std::memory_order_relaxed);
      spdlog::debug("event sink: dropping event from non-IP peer {}", context->peer());
      return grpc::Status::OK;
    }
    auto event = DecodeTalosEvent(*request, peer->v4().value_or(Ipv4Address{}));
    if (event.ok()) event->peer6 = peer->v6();
    if (!event.ok()) {
      malformed_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("event sink: {} from {}: {}", "malformed event", peer->ToString(), event.status().message());
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, event.status().message());
    }
    if (!event->known_type) unknown_type_.fetch_add(1, std::memory_order_relaxed);
    try {
      callback_(*event);
    } catch (const std::exception& e) {
      // A consumer bug must not take the sink down; Talos retries on error.
      spdlog::error("event sink: consumer failed on {} from {}: {}", event->type, peer->ToString(), e.what());
      return grpc::Status(grpc::StatusCode::INTERNAL, "event consumer failed");
    }
    delivered_.fetch_add(1, std::memory_order_relaxed);
    return grpc::Status::OK;
  }

  EventSinkCounters counters() const {
    EventSinkCounters c;
    c.received = received_.load(std::memory_order_relaxed);
    c.delivered = delivered_.load(std::memory_order_relaxed);
    c.unknown_type = unknown_type_.load(std::memory_order_relaxed);
    c.malformed = malformed_.load(std::memory_order_relaxed);
    c.no_ipv4_peer = no_ipv4_peer_.load(std::memory_order_relaxed);
    return c;
  }

 private:
  Callback callback_;
  std::atomic<std::uint64_t> received_{0}, delivered_{0}, unknown_type_{0}, malformed_{0}, no_ipv4_peer_{0};
};

struct EventSinkServer::GrpcServer {
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor;
  RunningGrpcServer server;
  std::unique_ptr<AdmissionListener> listener;  // stopped before the server, see Shutdown()
};

namespace {

int Ms(std::chrono::milliseconds d) { return static_cast<int>(d.count()); }

// The channel arguments that bound what one connection may hold (see
// EventSinkOptions).
void ApplyLimits(grpc::ServerBuilder& builder, const EventSinkOptions& o) {
  builder.SetMaxReceiveMessageSize(o.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, Ms(o.handshake_timeout));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, Ms(o.max_connection_idle));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, Ms(o.max_connection_age));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, Ms(o.max_connection_age_grace));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Ms(o.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Ms(o.keepalive_timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, o.max_concurrent_streams);
  grpc::ResourceQuota quota("metalpxe-event-sink");
  quota.Resize(o.memory_bytes);
  quota.SetMaxThreads(o.max_threads);
  builder.SetResourceQuota(quota);
}

}  // namespace

EventSinkServer::EventSinkServer(std::string listen_address, std::uint16_t port, Callback callback,
                                 EventSinkOptions options)
    : listen_address_(std::move(listen_address)),
      requested_port_(port),
      options_(options),
      service_(std::make_unique<Service>(std::move(callback))) {}

EventSinkServer::~EventSinkServer() { Shutdown(); }

Status EventSinkServer::Start() {
  if (server_) return Status(ErrorCode::kFailedPrecondition, "event sink already started");
  if (RaiseOpenFileLimit() < options_.max_connections + 256)
    spdlog::warn("event sink: the open-file limit is below {} connections", options_.max_connections);
  auto parts = std::make_unique<GrpcServer>();
  grpc::ServerBuilder builder;
  // Plaintext: Talos dials the sink with insecure credentials. We accept the
  // connections ourselves (the admission limits) and hand them to gRPC.
  parts->acceptor = builder.experimental().AddExternalConnectionAcceptor(
      grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD, grpc::InsecureServerCredentials());
  builder.RegisterService(service_.get());
  ApplyLimits(builder, options_);
  auto started = RunningGrpcServer::Start(builder, "event sink");
  if (!started.ok()) return started.status();
  parts->server = std::move(started).value();
  auto* acceptor = parts->acceptor.get();
  parts->listener = std::make_unique<AdmissionListener>(
      ConnectionLimits{options_.max_connections, options_.per_client_connections}, [acceptor](int fd, int listener) {
        grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters p;
        p.listener_fd = listener;
        p.fd = fd;
        acceptor->HandleNewConnection(&p);  // gRPC owns fd from here
      });
  if (auto st = parts->listener->Start(listen_address_, requested_port_); !st.ok()) {
    parts->server.Stop();
    return Status(st.code(), "event sink: " + st.message());
  }
  bound_port_ = parts->listener->port();
  server_ = std::move(parts);
  spdlog::info("event sink listening on {}:{} ({} connections, {} per address)", listen_address_, bound_port_,
               options_.max_connections, options_.per_client_connections);
  return Status::Ok();
}

void EventSinkServer::Shutdown() {
  if (!server_) return;
  server_->listener->Stop();  // no new connections reach gRPC while it shuts down
  server_->server.Stop();
  server_.reset();
}

EventSinkCounters EventSinkServer::counters() const {
  EventSinkCounters c = service_->counters();
  if (server_) {
    const auto a = server_->listener->counters();
    c.connections = a.admitted;
    c.refused_connections = a.refused_client_full + a.refused_server_full;
  }
  return c;
}

}  // namespace metalpxe
