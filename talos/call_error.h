#pragma once
// Why a call to a node's Talos API did not succeed, in the terms a caller
// acts on: retry later (the node is not up yet, not ready yet, the deadline
// passed), give up with a reason an operator understands (certificate
// refused, not authorized, rejected config), or treat as done (already
// bootstrapped). ClassifyGrpcStatus is the pure mapping from what gRPC
// reports (status code + message, from the transport or from Talos) to
// that; it is unit-tested on the messages gRPC and Talos really produce.
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/result.h"

namespace metalpxe::talos {

enum class CallFailure {
  kUnreachable,       // no TCP connection: refused, no route, host down
  kTlsRejected,       // TLS handshake failed: the node's certificate is not from the cluster CA, or ours was refused
  kDeadlineExceeded,  // the call's deadline passed (node silent, or slow)
  kNotReady,          // FailedPrecondition: "bootstrap is not available yet", "time is not in sync yet", ...
  kAlreadyExists,     // AlreadyExists: e.g. "etcd data directory is not empty"
  kNotAuthorized,     // PermissionDenied: the certificate's role may not make this call (or maintenance mode)
  kNotSupported,      // Unimplemented: e.g. Bootstrap on a worker
  kInvalidArgument,   // InvalidArgument: e.g. a config ApplyConfiguration refuses
  kUnavailable,       // the node answered Unavailable (a service behind apid is down)
  kProtocol,          // the answer did not make sense (no message, bad archive, too large)
  kOther,             // anything else Talos returned (Unknown, Internal, ...)
};

std::string_view CallFailureName(CallFailure f);  // "unreachable", "tls-rejected", ...

struct CallError {
  CallFailure failure = CallFailure::kOther;
  std::string message;  // readable, names the node; never carries secrets

  // Worth calling again later: the node may come up, become ready, answer in time.
  bool retryable() const;
  Status ToStatus() const;
};

// Maps a gRPC status (code as grpc::StatusCode's number, and its message) of
// a call to `node` ("10.66.0.11:50000") to a CallError. `call` names the RPC
// in the message ("Bootstrap").
CallError ClassifyGrpcStatus(int grpc_code, std::string_view grpc_message, std::string_view node,
                             std::string_view call);

// A value, or the CallError that stopped it (Result<T>, with the failure kind kept).
template <typename T>
class CallResult {
 public:
  CallResult(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  CallResult(CallError error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  const CallError& error() const { return std::get<CallError>(v_); }
  Status status() const { return ok() ? Status::Ok() : error().ToStatus(); }

 private:
  std::variant<T, CallError> v_;
};

}  // namespace metalpxe::talos
