#pragma once
// What a failed etcd call means, from gRPC's status code and etcd's own
// error text (api/v3rpc/rpctypes/error.go of etcd-io/etcd): whether trying
// the next endpoint can help, whether a write may have been applied anyway,
// and which Status the caller gets. Pure functions, so the rules are tested
// without a cluster.
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace metalpxe::etcd {

enum class EtcdFailure {
  kUnreachable,     // no connection to the endpoint (refused, TLS handshake): nothing was sent
  kNoLeader,        // the member has no leader: quorum lost or an election running; nothing applied
  kTimedOut,        // no answer in time (ours or etcd's "request timed out"): a write may still apply
  kConnectionLost,  // the connection broke during the call: a write may have been applied
  kCompacted,       // the revision asked for was compacted away
  kTooLarge,        // request over etcd's size or txn-ops limit
  kLeaseNotFound,   // the lease expired or was revoked
  kRejected,        // anything else etcd refused (bad argument, permission, no space, ...)
};

struct ClassifiedError {
  EtcdFailure failure;
  std::string message;  // gRPC's message, as etcd or gRPC wrote it
  int grpc_code = 0;
};

// grpc_code is a grpc::StatusCode value; message its error_message().
ClassifiedError ClassifyGrpcError(int grpc_code, std::string_view message);

// Whether the same call may go to the next endpoint. Reads always may after
// a transport failure; a write only when it surely was not applied, unless
// the caller declared it safe to repeat (a compare-and-swap it re-checks).
bool TryNextEndpoint(EtcdFailure f, bool repeat_safe);

// One endpoint's answer within a call that tried several.
struct AttemptError {
  std::string endpoint;  // URL
  ClassifiedError error;
};

// The Status for a call whose attempts all failed. "No quorum" gets its own
// message (see IsNoQuorum) so callers and health checks can say so plainly:
// a member reported no leader, or most endpoints are unreachable while the
// rest do not answer.
Status FinalStatus(std::string_view method, const std::vector<AttemptError>& attempts, std::size_t endpoint_count);

// The words every no-quorum Status carries (callers may prefix their own).
inline constexpr std::string_view kNoQuorumMessage = "etcd has no quorum";
bool IsNoQuorum(const Status& st);

}  // namespace metalpxe::etcd
