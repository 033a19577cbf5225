#include "api/running_grpc_server.h"

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

namespace metalpxe {

Result<RunningGrpcServer> RunningGrpcServer::Start(grpc::ServerBuilder& builder, const std::string& what) {
  auto server = builder.BuildAndStart();
  if (!server) return Status(ErrorCode::kUnavailable, what + ": cannot start the gRPC server");
  return RunningGrpcServer(std::move(server));
}

RunningGrpcServer::RunningGrpcServer(std::unique_ptr<grpc::Server> server) : server_(std::move(server)) {}
RunningGrpcServer::RunningGrpcServer(RunningGrpcServer&&) noexcept = default;

RunningGrpcServer& RunningGrpcServer::operator=(RunningGrpcServer&& other) noexcept {
  if (this != &other) {
    Stop();
    server_ = std::move(other.server_);
  }
  return *this;
}

RunningGrpcServer::~RunningGrpcServer() { Stop(); }

void RunningGrpcServer::Stop(std::chrono::milliseconds grace) {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
  server_.reset();
}

}  // namespace metalpxe
