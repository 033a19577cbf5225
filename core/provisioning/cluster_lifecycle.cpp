#include "core/provisioning/cluster_lifecycle.h"

#include <algorithm>

namespace metalpxe {
namespace {

const ClusterNodeView* FindClusterNode(const std::vector<ClusterNodeView>& nodes, const std::string& name) {
  for (const auto& n : nodes)
    if (n.name == name) return &n;
  return nullptr;
}

BootstrapDecision NothingBecause(std::string why) {
  BootstrapDecision d;
  d.why = std::move(why);
  return d;
}

}  // namespace

BootstrapDecision DecideBootstrap(BootstrapMode mode, const ClusterRecord& record,
                                  const std::vector<ClusterNodeView>& nodes) {
  using S = ClusterBootstrapState;
  if (record.bootstrap == S::kBootstrapped) return NothingBecause("bootstrapped");
  // A control plane with etcd members: the cluster exists, whoever made it.
  for (const auto& n : nodes) {
    if (n.role != Role::kControlPlane || n.etcd_members <= 0) continue;
    BootstrapDecision d;
    d.kind = BootstrapDecision::Kind::kRecognise;
    d.node = n.name;
    d.why = "etcd already runs on " + n.name;
    return d;
  }
  if (mode == BootstrapMode::kManual) return NothingBecause("bootstrap: manual (run talosctl bootstrap)");
  if (record.bootstrap == S::kFailed) return NothingBecause("failed: " + record.reason);
  if (record.attempts >= kBootstrapMaxAttempts) return NothingBecause("no attempts left");

  if (!record.node.empty()) {
    // Pinned: a call went to this node before; only it may be asked again.
    const ClusterNodeView* pinned = FindClusterNode(nodes, record.node);
    if (!pinned) return NothingBecause("waiting: control plane " + record.node + " is not in the inventory");
    if (pinned->state != MachineState::kRunning)
      return NothingBecause("waiting for control plane " + record.node + " to run (it is " +
                            std::string(MachineStateName(pinned->state)) + ")");
    BootstrapDecision d;
    d.kind = BootstrapDecision::Kind::kCall;
    d.node = record.node;
    d.why = "bootstrap on " + record.node + " (attempt " + std::to_string(record.attempts + 1) + ")";
    return d;
  }
  for (const auto& n : nodes) {
    if (n.role != Role::kControlPlane || n.state != MachineState::kRunning) continue;
    BootstrapDecision d;
    d.kind = BootstrapDecision::Kind::kCall;
    d.node = n.name;
    d.why = "first running control plane " + n.name;
    return d;
  }
  const bool any_cp = std::any_of(nodes.begin(), nodes.end(), [](const auto& n) { return n.role == Role::kControlPlane; });
  return NothingBecause(any_cp ? "waiting for a control plane to run" : "the cluster has no control plane machine");
}

ClusterRecord BeforeBootstrapCall(ClusterRecord r, const std::string& node, std::int64_t now_unix) {
  r.bootstrap = ClusterBootstrapState::kBootstrapping;
  r.node = node;
  r.attempts += 1;
  r.changed_unix = now_unix;
  if (r.reason.empty()) r.reason = "calling Bootstrap on " + node;
  return r;
}

ClusterRecord Recognised(ClusterRecord r, const std::string& node, int members, std::int64_t now_unix) {
  r.bootstrap = ClusterBootstrapState::kBootstrapped;
  if (r.node.empty()) r.node = node;
  r.reason = "recognised: etcd already runs on " + node + " (" + std::to_string(members) +
             (members == 1 ? " member)" : " members)");
  r.changed_unix = now_unix;
  return r;
}

ClusterRecord AfterBootstrapCall(ClusterRecord r, const BootstrapCallResult& result, std::int64_t now_unix) {
  using K = BootstrapCallResult::Kind;
  r.changed_unix = now_unix;
  switch (result.kind) {
    case K::kBootstrapped:
      r.bootstrap = ClusterBootstrapState::kBootstrapped;
      r.reason = "bootstrapped on " + r.node;
      return r;
    case K::kAlreadyBootstrapped:
      r.bootstrap = ClusterBootstrapState::kBootstrapped;
      r.reason = "recognised: " + r.node + " says etcd data directory is not empty";
      return r;
    case K::kRetry:
      r.reason = result.message;
      r.bootstrap = r.attempts >= kBootstrapMaxAttempts ? ClusterBootstrapState::kFailed
                                                        : ClusterBootstrapState::kBootstrapping;
      if (r.bootstrap == ClusterBootstrapState::kFailed)
        r.reason = "gave up after " + std::to_string(r.attempts) + " attempts: " + result.message;
      return r;
    case K::kRefused:
      r.bootstrap = ClusterBootstrapState::kFailed;
      r.reason = result.message;
      return r;
  }
  return r;
}

std::chrono::milliseconds BootstrapRetryDelay(int attempts) {
  std::chrono::milliseconds d = kBootstrapFirstDelay;
  for (int i = 1; i < attempts && d < kBootstrapMaxDelay; ++i) d *= 2;
  return std::min(d, kBootstrapMaxDelay);
}

ClusterRecord RoundAfterRestart(ClusterRecord r) {
  if (r.bootstrap != ClusterBootstrapState::kFailed) return r;
  r.bootstrap = r.node.empty() ? ClusterBootstrapState::kPending : ClusterBootstrapState::kBootstrapping;
  r.attempts = 0;
  return r;
}

std::string ClusterEventMessage(const ClusterRecord& r) {
  switch (r.bootstrap) {
    case ClusterBootstrapState::kBootstrapped:
      return "bootstrapped (" + r.reason + ")";
    case ClusterBootstrapState::kFailed:
      return "bootstrap failed: " + r.reason;
    case ClusterBootstrapState::kBootstrapping:
      return "bootstrap not done yet (attempt " + std::to_string(r.attempts) + "): " + r.reason;
    case ClusterBootstrapState::kPending:
      return "bootstrap pending: " + r.reason;
  }
  return r.reason;
}

}  // namespace metalpxe
