#pragma once
// Where a named cluster's bootstrap stands (issue 15): the one fact about a
// cluster metalpxe must never forget, because Bootstrap may run once per
// cluster. Names are the ones users see in `metalpxectl clusters`.
//
//   pending ──Bootstrap about to be called on control plane N (persisted first)──▶ bootstrapping(N)
//   bootstrapping(N) ──Talos: done, or "etcd data directory is not empty"──▶ bootstrapped
//   bootstrapping(N) ──not ready / unreachable──▶ bootstrapping(N) (retried, only ever on N)
//   bootstrapping(N) ──refused, or retries used up──▶ failed(reason)
//   pending ──etcd already has members on a control plane──▶ bootstrapped (recognised)
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace metalpxe {

enum class ClusterBootstrapState {
  kPending,        // no Bootstrap call made yet
  kBootstrapping,  // a call was (or is about to be) made on `node`; its outcome is not known to be done
  kBootstrapped,   // etcd exists: by our call, or recognised as made before
  kFailed,         // refused, or the bounded retries ran out; `reason` says why
};

std::string_view ClusterBootstrapStateName(ClusterBootstrapState s);  // "pending", ...
std::optional<ClusterBootstrapState> ParseClusterBootstrapState(std::string_view name);

// The persisted record of one cluster (Store::PutCluster / LoadClusters).
struct ClusterRecord {
  std::string name;  // the clusters: key
  ClusterBootstrapState bootstrap = ClusterBootstrapState::kPending;
  std::string node;    // the control plane (machine name) Bootstrap is pinned to once called
  std::string reason;  // why it is not bootstrapped yet, or how it was; never a secret
  int attempts = 0;    // Bootstrap calls made in this round
  std::int64_t changed_unix = 0;
};

}  // namespace metalpxe
