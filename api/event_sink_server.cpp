#include "api/event_sink_server.h"

#include <grpcpp/grpcpp.h>

#include "api/proto/events/events.grpc.pb.h"
#include "api/talos_event_decode.h"
#include "core/log.h"

namespace metalpxe {

class EventSinkServer::Service final : public events::EventSinkService::Service {
 public:
  explicit Service(Callback cb) : callback_(std::move(cb)) {}

  grpc::Status Publish(grpc::ServerContext* context, const events::EventRequest* request,
                       events::EventResponse* /*response*/) override {
    received_.fetch_add(1, std::memory_order_relaxed);
    auto peer = ParseGrpcPeerIpv4(context->peer());
    if (!peer) {
      // Not the sender's fault and not worth a retry: accept and drop.
      no_ipv4_peer_.fetch_add(1, std::memory_order_relaxed);
      spdlog::debug("event sink: dropping event from non-IPv4 peer {}", context->peer());
      return grpc::Status::OK;
    }
    auto event = DecodeTalosEvent(*request, *peer);
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
  std::unique_ptr<grpc::Server> server;
};

EventSinkServer::EventSinkServer(std::string listen_address, std::uint16_t port, Callback callback)
    : listen_address_(std::move(listen_address)),
      requested_port_(port),
      service_(std::make_unique<Service>(std::move(callback))) {}

EventSinkServer::~EventSinkServer() { Shutdown(); }

Status EventSinkServer::Start() {
  if (server_) return Status(ErrorCode::kFailedPrecondition, "event sink already started");
  int selected_port = 0;
  grpc::ServerBuilder builder;
  const std::string target = listen_address_ + ":" + std::to_string(requested_port_);
  // Plaintext: Talos dials the sink with insecure credentials.
  builder.AddListeningPort(target, grpc::InsecureServerCredentials(), &selected_port);
  builder.RegisterService(service_.get());
  // Events are tiny; refuse anything large rather than buffer it.
  builder.SetMaxReceiveMessageSize(1 << 20);
  // gRPC sets SO_REUSEPORT by default, which would let a second daemon bind
  // the same port silently and steal half the events.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  auto server = builder.BuildAndStart();
  if (!server || selected_port == 0) {
    return Status(ErrorCode::kUnavailable, "event sink: cannot listen on " + target);
  }
  bound_port_ = static_cast<std::uint16_t>(selected_port);
  server_ = std::make_unique<GrpcServer>();
  server_->server = std::move(server);
  spdlog::info("event sink listening on {}:{}", listen_address_, bound_port_);
  return Status::Ok();
}

void EventSinkServer::Shutdown() {
  if (!server_) return;
  server_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->server->Wait();
  server_.reset();
}

EventSinkCounters EventSinkServer::counters() const { return service_->counters(); }

}  // namespace metalpxe
