// metalpxectl's reading of a failed call: the texts are the ones gRPC 1.51
// wrote against real peers on this machine (a closed port, an unrouted
// address, a black-holed address, an OpenSSL server with a foreign
// certificate, a server that wants a client certificate we lack).
#include "cli/rpc_failure.h"

#include <gtest/gtest.h>

namespace metalpxe::cli {
namespace {

using grpc::StatusCode;

TEST(RpcFailure, ConnectionFailuresByCause) {
  EXPECT_EQ(ClassifyRpcFailure(StatusCode::UNAVAILABLE,
                               "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Failed to "
                               "connect to remote host: Connection refused",
                               false),
            RpcFailure::kConnectionRefused);
  EXPECT_EQ(ClassifyRpcFailure(StatusCode::UNAVAILABLE,
                               "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.9.9.9:50100: Network "
                               "is unreachable",
                               false),
            RpcFailure::kNoRoute);
  EXPECT_EQ(ClassifyRpcFailure(StatusCode::UNAVAILABLE,
                               "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.6.0.9:50100: Failed "
                               "to connect to remote host: No route to host",
                               false),
            RpcFailure::kNoRoute);
  EXPECT_EQ(ClassifyRpcFailure(StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded", false), RpcFailure::kNoAnswer);
  // A black-holed address once gRPC's 20 s connect timeout passes: not TLS.
  EXPECT_EQ(ClassifyRpcFailure(StatusCode::UNAVAILABLE,
                               "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.88.0.9:50100: tcp "
                               "handshaker shutdown",
                               false),
            RpcFailure::kNoAnswer);
  EXPECT_EQ(ClassifyRpcFailure(StatusCode::UNAVAILABLE,
                               "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:6666: Ssl "
                               "handshake failed: SSL_ERROR_SSL: error:0A000086:SSL routines::certificate verify "
                               "failed",
                               false),
            RpcFailure::kServerCertificateRejected);
  EXPECT_EQ(ClassifyRpcFailure(StatusCode::UNAVAILABLE,
                               "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:6667: "
                               "recvmsg:Connection reset by peer",
                               false),
            RpcFailure::kClientCertificateRejected);
  EXPECT_EQ(ClassifyRpcFailure(StatusCode::UNAVAILABLE,
                               "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:41017: "
                               "Socket closed",
                               false),
            RpcFailure::kClientCertificateRejected);
}

TEST(RpcFailure, WithTheConnectionUpTheStatusIsTheServers) {
  // The daemon's answer for a BMC that does not answer: no TLS word in sight.
  EXPECT_EQ(ClassifyRpcFailure(StatusCode::UNAVAILABLE,
                               "IPMI session to 10.88.0.9 (cipher suite 3): connection timeout", true),
            RpcFailure::kAnsweredByServer);
  EXPECT_EQ(ClassifyRpcFailure(StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded", true),
            RpcFailure::kDeadlineWhileConnected);
  EXPECT_EQ(ClassifyRpcFailure(StatusCode::DEADLINE_EXCEEDED, "power cycle: BMC did not confirm in 30s", true),
            RpcFailure::kAnsweredByServer);
  EXPECT_EQ(ClassifyRpcFailure(StatusCode::NOT_FOUND, "no machine ghost", true), RpcFailure::kAnsweredByServer);
}

}  // namespace
}  // namespace metalpxe::cli
