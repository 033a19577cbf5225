#include "etcd/etcd_errors.h"

#include <grpcpp/support/status_code_enum.h>

namespace metalpxe::etcd {
namespace {

bool Contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

// gRPC's own words for a call that never got a connection (C-core 1.51:
// "failed to connect to all addresses; last error: ... Connection refused",
// or a handshake failure). Anything else UNAVAILABLE without etcd's prefix
// happened on an established connection.
bool NeverConnected(std::string_view m) {
  return Contains(m, "failed to connect") || Contains(m, "Connection refused") ||
         Contains(m, "connections to all backends failing") || Contains(m, "Handshake failed") ||
         Contains(m, "handshake") || Contains(m, "empty address list") || Contains(m, "DNS resolution failed");
}

}  // namespace

ClassifiedError ClassifyGrpcError(int grpc_code, std::string_view message) {
  ClassifiedError out{EtcdFailure::kRejected, std::string(message), grpc_code};
  const bool from_etcd = message.substr(0, 11) == "etcdserver:";
  switch (static_cast<grpc::StatusCode>(grpc_code)) {
    case grpc::StatusCode::UNAVAILABLE:
      if (from_etcd) {
        // "no leader" comes from the hasleader check before anything is
        // proposed; "leader changed" and "server stopped" also leave the
        // request unapplied... except that a proposal may already be in the
        // log when the leader changes, so those count as timed out.
        if (Contains(message, "no leader")) out.failure = EtcdFailure::kNoLeader;
        else if (Contains(message, "unhealthy cluster")) out.failure = EtcdFailure::kNoLeader;
        else out.failure = EtcdFailure::kTimedOut;  // request timed out*, leader changed, server stopped
      } else {
        out.failure = NeverConnected(message) ? EtcdFailure::kUnreachable : EtcdFailure::kConnectionLost;
      }
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED: out.failure = EtcdFailure::kTimedOut; break;
    case grpc::StatusCode::OUT_OF_RANGE:
      out.failure = Contains(message, "compacted") ? EtcdFailure::kCompacted : EtcdFailure::kRejected;
      break;
    case grpc::StatusCode::NOT_FOUND:
      out.failure = Contains(message, "lease not found") ? EtcdFailure::kLeaseNotFound : EtcdFailure::kRejected;
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
      out.failure = Contains(message, "too large") || Contains(message, "too many operations") ? EtcdFailure::kTooLarge
                                                                                                 : EtcdFailure::kRejected;
      break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      // gRPC's own message-size limit reads "Received message larger than max".
      out.failure = Contains(message, "larger than max") ? EtcdFailure::kTooLarge : EtcdFailure::kRejected;
      break;
    case grpc::StatusCode::UNKNOWN:
      // A broken HTTP/2 stream sometimes surfaces as UNKNOWN ("Stream removed").
      out.failure = from_etcd ? EtcdFailure::kRejected : EtcdFailure::kConnectionLost;
      break;
    default: break;
  }
  return out;
}

bool TryNextEndpoint(EtcdFailure f, bool repeat_safe) {
  switch (f) {
    case EtcdFailure::kUnreachable:
    case EtcdFailure::kNoLeader: return true;
    case EtcdFailure::kTimedOut:
    case EtcdFailure::kConnectionLost: return repeat_safe;
    default: return false;
  }
}

Status FinalStatus(std::string_view method, const std::vector<AttemptError>& attempts, std::size_t endpoint_count) {
  if (attempts.empty()) return Status(ErrorCode::kInternal, "etcd " + std::string(method) + ": no attempt made");
  std::string detail;
  std::size_t unreachable = 0, no_leader = 0, timed_out = 0;
  for (const auto& a : attempts) {
    if (!detail.empty()) detail += "; ";
    detail += a.endpoint + ": " + a.error.message;
    unreachable += a.error.failure == EtcdFailure::kUnreachable;
    no_leader += a.error.failure == EtcdFailure::kNoLeader;
    timed_out += a.error.failure == EtcdFailure::kTimedOut;
  }
  const auto& last = attempts.back().error;
  const std::string what = "etcd " + std::string(method);
  // A majority of the configured endpoints down and the others silent: from
  // here the cluster cannot commit anything, whatever the members think.
  const bool majority_down = unreachable * 2 > endpoint_count && unreachable < attempts.size();
  if (no_leader > 0 || (majority_down && timed_out > 0))
    return Status(ErrorCode::kUnavailable, std::string(kNoQuorumMessage) + " (" + what + " failed: " + detail + ")");
  switch (last.failure) {
    case EtcdFailure::kUnreachable:
      return Status(ErrorCode::kUnavailable, what + ": no endpoint reachable (" + detail + ")");
    case EtcdFailure::kTimedOut:
      return Status(ErrorCode::kDeadlineExceeded, what + " got no answer in time; a write may still be applied (" +
                                                      detail + ")");
    case EtcdFailure::kConnectionLost:
      return Status(ErrorCode::kUnavailable, what + ": connection lost during the call; a write may have been "
                                                    "applied (" + detail + ")");
    case EtcdFailure::kCompacted: return Status(ErrorCode::kFailedPrecondition, what + ": " + last.message);
    case EtcdFailure::kTooLarge: return Status(ErrorCode::kResourceExhausted, what + ": " + last.message);
    case EtcdFailure::kLeaseNotFound: return Status(ErrorCode::kNotFound, what + ": " + last.message);
    case EtcdFailure::kNoLeader:
    case EtcdFailure::kRejected: break;
  }
  ErrorCode code = ErrorCode::kFailedPrecondition;
  switch (static_cast<grpc::StatusCode>(last.grpc_code)) {
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED: code = ErrorCode::kPermissionDenied; break;
    case grpc::StatusCode::INVALID_ARGUMENT: code = ErrorCode::kInvalidArgument; break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: code = ErrorCode::kResourceExhausted; break;
    case grpc::StatusCode::CANCELLED: code = ErrorCode::kUnavailable; break;
    default: break;
  }
  return Status(code, what + " refused: " + last.message);
}

bool IsNoQuorum(const Status& st) {
  // Anywhere in the message: layers above add their own prefix ("etcd store: ...").
  return st.code() == ErrorCode::kUnavailable && st.message().find(kNoQuorumMessage) != std::string::npos;
}

}  // namespace metalpxe::etcd
