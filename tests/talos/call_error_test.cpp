// The mapping from what gRPC and Talos report to what a caller does about
// it, on the messages they really produce (gRPC 1.51 with OpenSSL; Talos's
// machined handlers).
#include "talos/call_error.h"

#include <grpcpp/support/status_code_enum.h>
#include <gtest/gtest.h>

namespace metalpxe::talos {
namespace {

CallError Classify(grpc::StatusCode code, std::string_view msg) {
  return ClassifyGrpcStatus(static_cast<int>(code), msg, "10.66.0.11:50000", "Bootstrap");
}

TEST(TalosCallError, TransportFailures) {
  auto refused = Classify(grpc::StatusCode::UNAVAILABLE,
                          "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.66.0.11:50000: Failed to "
                          "connect to remote host: Connection refused");
  EXPECT_EQ(refused.failure, CallFailure::kUnreachable);
  EXPECT_TRUE(refused.retryable());
  EXPECT_EQ(refused.message.rfind("Bootstrap on 10.66.0.11:50000: unreachable: connection refused", 0), 0u)
      << refused.message;
  EXPECT_EQ(Classify(grpc::StatusCode::UNAVAILABLE, "connect: No route to host (113)").failure,
            CallFailure::kUnreachable);
  auto tls = Classify(grpc::StatusCode::UNAVAILABLE,
                      "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.66.0.11:50000: Ssl handshake "
                      "failed: SSL_ERROR_SSL: error:0A000086:SSL routines::certificate verify failed");
  EXPECT_EQ(tls.failure, CallFailure::kTlsRejected);
  EXPECT_FALSE(tls.retryable());
  EXPECT_NE(tls.message.find("not signed by the cluster's CA"), std::string::npos);
  auto silent = Classify(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded");
  EXPECT_EQ(silent.failure, CallFailure::kDeadlineExceeded);
  EXPECT_TRUE(silent.retryable());
}

TEST(TalosCallError, TalosAnswers) {
  auto not_ready = Classify(grpc::StatusCode::FAILED_PRECONDITION, "bootstrap is not available yet");
  EXPECT_EQ(not_ready.failure, CallFailure::kNotReady);
  EXPECT_TRUE(not_ready.retryable());
  EXPECT_EQ(Classify(grpc::StatusCode::FAILED_PRECONDITION, "time is not in sync yet").failure, CallFailure::kNotReady);
  auto done = Classify(grpc::StatusCode::ALREADY_EXISTS, "etcd data directory is not empty");
  EXPECT_EQ(done.failure, CallFailure::kAlreadyExists);
  EXPECT_FALSE(done.retryable());
  auto denied = Classify(grpc::StatusCode::PERMISSION_DENIED, "not authorized");
  EXPECT_EQ(denied.failure, CallFailure::kNotAuthorized);
  EXPECT_EQ(denied.ToStatus().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Classify(grpc::StatusCode::UNIMPLEMENTED, "bootstrap is only available on control plane nodes").failure,
            CallFailure::kNotSupported);
  EXPECT_EQ(Classify(grpc::StatusCode::INVALID_ARGUMENT, "unknown keys found during decoding").failure,
            CallFailure::kInvalidArgument);
  auto other = Classify(grpc::StatusCode::UNKNOWN, "error validating installer image");
  EXPECT_EQ(other.failure, CallFailure::kOther);
  EXPECT_FALSE(other.retryable());
  EXPECT_EQ(CallFailureName(CallFailure::kTlsRejected), "tls-rejected");
}

}  // namespace
}  // namespace metalpxe::talos
