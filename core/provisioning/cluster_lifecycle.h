#pragma once
// A named cluster's bootstrap (issue 15), as pure decisions over plain data:
// the daemon's cluster driver (daemon/cluster_driver.h) gathers the facts
// (which machines of the cluster are running, what Talos answered), asks
// here what to do, persists the record these functions return and makes the
// Talos calls. Nothing here blocks or talks to a node.
//
// The rule that matters: Bootstrap creates a cluster's etcd and must run on
// ONE control plane, once. Bootstrapping a second control plane of an
// existing cluster splits it in two. Hence:
//   - the record is persisted as `bootstrapping` on node N BEFORE the first
//     call to N, and every later call goes to N only (after a restart too: a
//     call whose answer was lost may have worked, and only N can say so by
//     answering AlreadyExists);
//   - a control plane that already reports etcd members means the cluster
//     exists (bootstrapped before, by us or by `talosctl bootstrap`): it is
//     recorded as bootstrapped without any call;
//   - workers are never chosen; a bootstrapped cluster is never touched
//     again (restart, a second control plane, a reinstalled worker);
//   - retries are bounded: backoff doubling up to kBootstrapMaxDelay, at most
//     kBootstrapMaxAttempts calls, then `failed` with the last reason. A
//     failed cluster gets one fresh bounded round when metalpxed starts
//     (RoundAfterRestart), still pinned to N.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/cluster_state.h"
#include "core/config.h"
#include "core/machine_state.h"

namespace metalpxe {

inline constexpr int kBootstrapMaxAttempts = 30;
inline constexpr std::chrono::milliseconds kBootstrapFirstDelay{2000};
inline constexpr std::chrono::milliseconds kBootstrapMaxDelay{60000};

// One machine of the cluster, as the driver sees it now.
struct ClusterNodeView {
  std::string name;
  Role role = Role::kWorker;
  MachineState state = MachineState::kPendingInstall;
  int etcd_members = 0;  // members its EtcdMemberList reported (0: none, or not asked / not answering)
};

struct BootstrapDecision {
  enum class Kind {
    kNothing,                   // done, manual, failed, or nothing to call yet (`why`)
    kRecognise,                 // etcd exists already (seen on `node`): record bootstrapped, no call
    kCall,                      // persist BeforeBootstrapCall, then call Bootstrap on `node`
  };
  Kind kind = Kind::kNothing;
  std::string node;
  std::string why;  // for logs and `cluster status`; never a secret
};

// `nodes` in inventory order (the first running control plane is chosen).
BootstrapDecision DecideBootstrap(BootstrapMode mode, const ClusterRecord& record,
                                  const std::vector<ClusterNodeView>& nodes);

// The record to persist (durably) before calling Bootstrap on `node`.
ClusterRecord BeforeBootstrapCall(ClusterRecord record, const std::string& node, std::int64_t now_unix);

// The record after a kRecognise decision.
ClusterRecord Recognised(ClusterRecord record, const std::string& node, int members, std::int64_t now_unix);

// What a Bootstrap call came to, in the terms the decision needs (the
// driver maps the Talos client's CallError to it).
struct BootstrapCallResult {
  enum class Kind {
    kBootstrapped,         // OK: this call created etcd
    kAlreadyBootstrapped,  // AlreadyExists "etcd data directory is not empty"
    kRetry,                // not ready (FailedPrecondition), unreachable, deadline, unavailable
    kRefused,              // certificate refused, not authorized, not supported, anything else
  };
  Kind kind = Kind::kRetry;
  std::string message;  // the client's readable reason (names the node, no secrets)
};

ClusterRecord AfterBootstrapCall(ClusterRecord record, const BootstrapCallResult& result, std::int64_t now_unix);

// How long to wait before the next call after `attempts` calls (>= 1).
std::chrono::milliseconds BootstrapRetryDelay(int attempts);

// At start-up: a failed cluster gets a fresh bounded round (attempts 0),
// keeping its pinned node; any other record is returned unchanged.
ClusterRecord RoundAfterRestart(ClusterRecord record);

// The cluster event for a record that changed: "bootstrapped", or the reason.
std::string ClusterEventMessage(const ClusterRecord& record);

}  // namespace metalpxe
