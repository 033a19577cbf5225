#include "talos/call_error.h"

#include <grpcpp/support/status_code_enum.h>

namespace metalpxe::talos {
namespace {

bool Contains(std::string_view text, std::string_view what) { return text.find(what) != std::string_view::npos; }

// gRPC reports a failed connection attempt as UNAVAILABLE with the socket or
// TLS error in the message ("failed to connect to all addresses; last error:
// UNKNOWN: ipv4:10.0.0.5:50000: Failed to connect to remote host: Connection
// refused", "... Ssl handshake failed: ... certificate verify failed").
CallError TransportFailure(std::string_view msg, const std::string& where) {
  static constexpr std::string_view kTls[] = {"andshake", "SSL", "ssl", "TLS", "tls", "certificate", "alert"};
  for (std::string_view marker : kTls)
    if (Contains(msg, marker)) {
      const bool verify = Contains(msg, "certificate verify failed") || Contains(msg, "CERTIFICATE_VERIFY_FAILED");
      return {CallFailure::kTlsRejected,
              where + ": TLS handshake failed: " +
                  (verify ? std::string("the node's certificate is not signed by the cluster's CA (or does not name "
                                        "this address)")
                          : std::string("the node refused our client certificate or TLS settings")) +
                  " (" + std::string(msg) + ")"};
    }
  static constexpr std::pair<std::string_view, std::string_view> kSocket[] = {
      {"Connection refused", "connection refused (nothing listens on the port: not booted yet, or not Talos)"},
      {"No route to host", "no route to host"},
      {"Network is unreachable", "network is unreachable"},
      {"Host is unreachable", "host is unreachable"},
      {"Connection timed out", "connection timed out"},
      {"Connection reset", "connection reset by the node"},
  };
  for (const auto& [marker, words] : kSocket)
    if (Contains(msg, marker)) return {CallFailure::kUnreachable, where + ": unreachable: " + std::string(words)};
  if (Contains(msg, "failed to connect") || Contains(msg, "Socket closed") || Contains(msg, "Broken pipe"))
    return {CallFailure::kUnreachable, where + ": unreachable: " + std::string(msg)};
  return {CallFailure::kUnavailable, where + ": unavailable: " + std::string(msg)};
}

}  // namespace

std::string_view CallFailureName(CallFailure f) {
  switch (f) {
    case CallFailure::kUnreachable: return "unreachable";
    case CallFailure::kTlsRejected: return "tls-rejected";
    case CallFailure::kDeadlineExceeded: return "deadline-exceeded";
    case CallFailure::kNotReady: return "not-ready";
    case CallFailure::kAlreadyExists: return "already-exists";
    case CallFailure::kNotAuthorized: return "not-authorized";
    case CallFailure::kNotSupported: return "not-supported";
    case CallFailure::kInvalidArgument: return "invalid-argument";
    case CallFailure::kUnavailable: return "unavailable";
    case CallFailure::kProtocol: return "protocol";
    case CallFailure::kOther: return "other";
  }
  return "?";
}

bool CallError::retryable() const {
  return failure == CallFailure::kUnreachable || failure == CallFailure::kDeadlineExceeded ||
         failure == CallFailure::kNotReady || failure == CallFailure::kUnavailable;
}

Status CallError::ToStatus() const {
  switch (failure) {
    case CallFailure::kUnreachable:
    case CallFailure::kUnavailable: return Status(ErrorCode::kUnavailable, message);
    case CallFailure::kDeadlineExceeded: return Status(ErrorCode::kDeadlineExceeded, message);
    case CallFailure::kNotReady: return Status(ErrorCode::kFailedPrecondition, message);
    case CallFailure::kAlreadyExists: return Status(ErrorCode::kAlreadyExists, message);
    case CallFailure::kTlsRejected:
    case CallFailure::kNotAuthorized: return Status(ErrorCode::kPermissionDenied, message);
    case CallFailure::kNotSupported: return Status(ErrorCode::kUnsupported, message);
    case CallFailure::kInvalidArgument: return Status(ErrorCode::kInvalidArgument, message);
    case CallFailure::kProtocol:
    case CallFailure::kOther: return Status(ErrorCode::kInternal, message);
  }
  return Status(ErrorCode::kInternal, message);
}

CallError ClassifyGrpcStatus(int grpc_code, std::string_view grpc_message, std::string_view node,
                             std::string_view call) {
  const std::string where = std::string(call) + " on " + std::string(node);
  const std::string said = std::string(grpc_message);
  switch (static_cast<grpc::StatusCode>(grpc_code)) {
    case grpc::StatusCode::UNAVAILABLE: return TransportFailure(grpc_message, where);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return {CallFailure::kDeadlineExceeded, where + ": no answer before the deadline"};
    case grpc::StatusCode::FAILED_PRECONDITION: return {CallFailure::kNotReady, where + ": not ready: " + said};
    case grpc::StatusCode::ALREADY_EXISTS: return {CallFailure::kAlreadyExists, where + ": already done: " + said};
    case grpc::StatusCode::PERMISSION_DENIED:
      return {CallFailure::kNotAuthorized,
              where + ": refused: " + said + " (the certificate's role may not make this call)"};
    case grpc::StatusCode::UNAUTHENTICATED: return {CallFailure::kNotAuthorized, where + ": refused: " + said};
    case grpc::StatusCode::UNIMPLEMENTED: return {CallFailure::kNotSupported, where + ": not supported: " + said};
    case grpc::StatusCode::INVALID_ARGUMENT: return {CallFailure::kInvalidArgument, where + ": rejected: " + said};
    default: return {CallFailure::kOther, where + ": " + said};
  }
}

}  // namespace metalpxe::talos
