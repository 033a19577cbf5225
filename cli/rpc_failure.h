#pragma once
// Why a call failed, told apart from what gRPC reports. gRPC folds "nothing
// listens", "no route", "the host does not answer", "a TLS handshake failed"
// and "the server answered UNAVAILABLE" (e.g. a BMC that does not answer)
// into UNAVAILABLE or DEADLINE_EXCEEDED. The channel's state tells whether a
// connection was up (then the status is the server's, or the call's own
// deadline), and the message of a failed connection names its cause (the
// texts gRPC 1.51 writes, checked against real peers in
// tests/management/mgmt_rpc_failure_test.cpp). A pure function: the caller
// words the message.
#include <string_view>

#include <grpcpp/support/status.h>

namespace metalpxe::cli {

enum class RpcFailure {
  kAnsweredByServer,           // the connection was up: the status (and its message) is the server's
  kDeadlineWhileConnected,     // the connection was up; the server did not answer before our deadline
  kConnectionRefused,          // nothing listens at the endpoint
  kNoRoute,                    // no route / network or host unreachable
  kNoAnswer,                   // our deadline passed before any connection came up
  kServerCertificateRejected,  // we refused the server's certificate (wrong CA, wrong name)
  kClientCertificateRejected,  // the server closed the handshake: it refused our certificate
  kNameResolution,             // the endpoint's name does not resolve
  kOtherConnectionFailure,
};

// channel_was_ready: the channel's state after the call was READY.
RpcFailure ClassifyRpcFailure(grpc::StatusCode code, std::string_view message, bool channel_was_ready);

}  // namespace metalpxe::cli
