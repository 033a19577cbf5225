// How metalpxed starts and stops each of its gRPC servers (the Talos event
// sink, the management API): one place decides the shutdown order and the
// grace in-flight calls get, so the two servers cannot drift apart.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/result.h"

namespace grpc {
class Server;
class ServerBuilder;
}  // namespace grpc

namespace metalpxe {

class RunningGrpcServer {
 public:
  // Builds and starts `builder`'s server; `what` names it in the error.
  static Result<RunningGrpcServer> Start(grpc::ServerBuilder& builder, const std::string& what);

  RunningGrpcServer() = default;
  RunningGrpcServer(RunningGrpcServer&&) noexcept;
  RunningGrpcServer& operator=(RunningGrpcServer&&) noexcept;
  ~RunningGrpcServer();  // Stop()

  bool running() const { return server_ != nullptr; }

  // Refuses new calls, gives in-flight ones `grace` to finish, then cancels
  // the rest and waits for every handler to return. Idempotent.
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(2));

 private:
  explicit RunningGrpcServer(std::unique_ptr<grpc::Server> server);
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace metalpxe
