#pragma once
// metalpxectl's link to metalpxed: the client config (mutual TLS material and
// endpoint), the gRPC stub, and the translation of failures into messages
// that say what to do next.
#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "cli/output.h"
#include "core/result.h"
#include "metalpxe/v1/management.grpc.pb.h"

namespace metalpxe::cli {

// Exit codes of metalpxectl.
constexpr int kExitOk = 0;
constexpr int kExitServerError = 1;  // the call failed (server said no, or could not be reached)
constexpr int kExitUsage = 2;        // bad arguments or an unusable client config

struct GlobalOptions {
  std::string config_path;  // "" = $METALPXECONFIG, then ~/.config/metalpxe/config
  std::string endpoint;     // overrides the config's endpoint
  std::string output = "table";
};

struct Session {
  std::string endpoint;
  std::string config_path;
  OutputFormat format = OutputFormat::kTable;
  std::shared_ptr<grpc::Channel> channel;  // its state tells connection failures from server answers
  std::unique_ptr<metalpxe::v1::Management::Stub> stub;

  // A context for a unary call: bounded so a hung server does not hang us.
  std::unique_ptr<grpc::ClientContext> UnaryContext(std::chrono::seconds timeout = std::chrono::seconds(30)) const;
};

std::string DefaultConfigPath();

// Reads the config and builds the channel; on failure prints why to stderr.
// Returns nullptr then (exit code kExitUsage).
std::unique_ptr<Session> OpenSession(const GlobalOptions& options);

// Prints a failed call's message, worded for the user, and returns the exit
// code. `machine`: the machine the call was about ("" if none).
int ReportRpcError(const Session& session, const grpc::Status& status, const std::string& machine = "");

}  // namespace metalpxe::cli
