#include "cli/rpc_failure.h"

#include <algorithm>
#include <initializer_list>
#include <string>

namespace metalpxe::cli {
namespace {

bool ContainsAny(const std::string& haystack, std::initializer_list<const char*> needles) {
  return std::any_of(needles.begin(), needles.end(),
                     [&](const char* n) { return haystack.find(n) != std::string::npos; });
}

}  // namespace

RpcFailure ClassifyRpcFailure(grpc::StatusCode code, std::string_view message, bool channel_was_ready) {
  if (code != grpc::StatusCode::UNAVAILABLE && code != grpc::StatusCode::DEADLINE_EXCEEDED)
    return RpcFailure::kAnsweredByServer;
  if (channel_was_ready) {
    // gRPC's own text for our deadline; a server's DEADLINE_EXCEEDED has its own.
    if (code == grpc::StatusCode::DEADLINE_EXCEEDED && message == "Deadline Exceeded")
      return RpcFailure::kDeadlineWhileConnected;
    return RpcFailure::kAnsweredByServer;
  }
  std::string m(message);
  std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (ContainsAny(m, {"connection refused"})) return RpcFailure::kConnectionRefused;
  if (ContainsAny(m, {"no route to host", "network is unreachable", "host is unreachable"}))
    return RpcFailure::kNoRoute;
  if (ContainsAny(m, {"dns resolution failed", "name or service not known", "could not resolve"}))
    return RpcFailure::kNameResolution;
  // The TCP connect itself never completed (gRPC gives up connecting after
  // 20 s): the host is down or its packets are dropped. "handshaker" here is
  // gRPC's TCP connect step, not TLS.
  if (ContainsAny(m, {"tcp handshaker shutdown", "connection timed out", "timeout occurred", "connect timeout"}))
    return RpcFailure::kNoAnswer;
  // OpenSSL's verdict on the server's chain or name, seen on our side.
  if (ContainsAny(m, {"certificate verify failed", "certificate_verify_failed", "peer name", "hostname mismatch"}))
    return RpcFailure::kServerCertificateRejected;
  // The server ended the handshake: an alert (TLS 1.2) or, in TLS 1.3, a
  // reset or close right after our certificate went out.
  if (ContainsAny(m, {"alert", "ssl", "tls", "handshake failed", "handshake read failed", "reset by peer",
                      "socket closed", "connection closed", "end of file"}))
    return RpcFailure::kClientCertificateRejected;
  if (code == grpc::StatusCode::DEADLINE_EXCEEDED) return RpcFailure::kNoAnswer;
  return RpcFailure::kOtherConnectionFailure;
}

}  // namespace metalpxe::cli
