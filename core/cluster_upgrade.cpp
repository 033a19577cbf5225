#include "core/cluster_upgrade.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <utility>

namespace metalpxe {
namespace {

constexpr std::array<std::pair<UpgradeRunState, std::string_view>, 3> kUpgradeRunStateNames{{
    {UpgradeRunState::kRunning, "running"},
    {UpgradeRunState::kDone, "done"},
    {UpgradeRunState::kFailed, "failed"},
}};

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "1.9.6": three dot-separated numbers, no leading zeros (but "0").
bool IsDottedTriple(std::string_view s) {
  int parts = 0;
  while (true) {
    const auto dot = s.find('.');
    const std::string_view part = s.substr(0, dot);
    if (!AllDigits(part) || (part.size() > 1 && part[0] == '0') || part.size() > 6) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  return parts == 3;
}

void Fail(UpgradeRun& run, std::string reason, std::int64_t now_ms) {
  run.record.state = UpgradeRunState::kFailed;
  run.record.reason = std::move(reason);
  run.record.changed_unix = now_ms / 1000;
}

bool IsDone(const UpgradeRecord& r, const std::string& node) {
  return std::find(r.done.begin(), r.done.end(), node) != r.done.end();
}

// The node a run is at: the one in flight, else the first plan node not done.
const UpgradePlanNode* CurrentNode(const UpgradePlan& plan, const UpgradeRun& run) {
  for (const auto& n : plan.nodes)
    if (n.name == run.record.node) return &n;
  for (const auto& n : plan.nodes)
    if (!IsDone(run.record, n.name)) return &n;
  return nullptr;
}

void PinTarget(UpgradeRecord& r) {
  r.pinned_version = r.version;
  r.pinned_schematic = r.schematic;
}

void NodeReached(const UpgradePlan& plan, UpgradeRun& run, const std::string& node, std::int64_t now_ms) {
  if (!IsDone(run.record, node)) run.record.done.push_back(node);
  PinTarget(run.record);
  run.record.node.clear();
  run.record.node_since_ms = 0;
  run.phase = UpgradePhase::kLook;
  run.polls = 0;
  run.last.clear();
  run.record.changed_unix = now_ms / 1000;
  if (CurrentNode(plan, run) == nullptr) run.record.state = UpgradeRunState::kDone;
}

std::string Seconds(std::chrono::milliseconds d) {
  const auto ms = d.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

}  // namespace

std::string_view UpgradeRunStateName(UpgradeRunState s) {
  for (const auto& [state, name] : kUpgradeRunStateNames)
    if (state == s) return name;
  return "unknown";
}

std::optional<UpgradeRunState> ParseUpgradeRunState(std::string_view name) {
  for (const auto& [state, n] : kUpgradeRunStateNames)
    if (n == name) return state;
  return std::nullopt;
}

bool IsTalosVersionTag(std::string_view v) {
  if (v.size() < 6 || v.size() > 40 || v[0] != 'v') return false;
  v.remove_prefix(1);
  const auto dash = v.find('-');
  if (!IsDottedTriple(v.substr(0, dash))) return false;
  if (dash == std::string_view::npos) return true;
  // Pre-releases as Talos tags them: -alpha.N, -beta.N, -rc.N.
  const std::string_view pre = v.substr(dash + 1);
  for (std::string_view kind : {"alpha.", "beta.", "rc."})
    if (pre.starts_with(kind)) return AllDigits(pre.substr(kind.size()));
  return false;
}

bool IsSchematicId(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Result<std::string> FactoryInstallerImage(std::string_view image_factory_url, std::string_view schematic,
                                          std::string_view version) {
  if (!IsTalosVersionTag(version))
    return Status(ErrorCode::kInvalidArgument,
                  "'" + std::string(version) + "' is not a Talos version (vMAJOR.MINOR.PATCH, e.g. v1.9.6)");
  if (!IsSchematicId(schematic))
    return Status(ErrorCode::kInvalidArgument,
                  "'" + std::string(schematic) + "' is not an Image Factory schematic ID (64 lower-case hex digits)");
  std::string_view host = image_factory_url;
  for (std::string_view scheme : {"https://", "http://"})
    if (host.starts_with(scheme)) host.remove_prefix(scheme.size());
  host = host.substr(0, host.find('/'));
  const bool host_ok = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == ':';
  });
  if (!host_ok)
    return Status(ErrorCode::kInvalidArgument,
                  "imageFactory '" + std::string(image_factory_url) + "' has no registry host to pull the installer from");
  // Image Factory serves the installer of every schematic as an OCI image:
  // <host>/installer/<schematic>:<version>.
  return std::string(host) + "/installer/" + std::string(schematic) + ":" + std::string(version);
}

Result<UpgradePlan> PlanUpgrade(const std::string& cluster, const std::vector<UpgradeCandidate>& nodes,
                                const std::string& version, const std::string& schematic) {
  if (!IsTalosVersionTag(version))
    return Status(ErrorCode::kInvalidArgument, "'" + version + "' is not a Talos version (vMAJOR.MINOR.PATCH, e.g. v1.9.6)");
  if (!schematic.empty() && !IsSchematicId(schematic))
    return Status(ErrorCode::kInvalidArgument,
                  "'" + schematic + "' is not an Image Factory schematic ID (64 lower-case hex digits)");
  if (nodes.empty()) return Status(ErrorCode::kFailedPrecondition, "cluster " + cluster + " has no machines");
  UpgradePlan plan;
  plan.cluster = cluster;
  plan.version = version;
  std::vector<UpgradeCandidate> sorted = nodes;
  std::sort(sorted.begin(), sorted.end(), [](const UpgradeCandidate& a, const UpgradeCandidate& b) {
    // Workers first: a cluster keeps its control plane until the workers are through.
    if (a.role != b.role) return a.role == Role::kWorker;
    return a.name < b.name;
  });
  for (const auto& n : sorted) {
    if (n.state != MachineState::kRunning) {
      if (n.role == Role::kControlPlane)
        return Status(ErrorCode::kFailedPrecondition,
                      "control plane " + n.name + " is " + std::string(MachineStateName(n.state)) +
                          ", not running: upgrading another control plane would leave two down");
      plan.skipped.push_back(n.name + ": " + std::string(MachineStateName(n.state)) + " (a reinstall installs " +
                             version + ")");
      continue;
    }
    const std::string& id = schematic.empty() ? n.schematic : schematic;
    if (id.empty())
      return Status(ErrorCode::kFailedPrecondition,
                    n.name + ": profile '" + n.profile +
                        "' names no Image Factory schematic: give --schematic ID for the installer image");
    auto image = FactoryInstallerImage(n.image_factory.empty() ? "https://factory.talos.dev" : n.image_factory, id,
                                       version);
    if (!image.ok()) return Status(image.status().code(), n.name + ": " + image.status().message());
    plan.nodes.push_back({n.name, n.role, *image});
  }
  if (plan.nodes.empty())
    return Status(ErrorCode::kFailedPrecondition, "no machine of cluster " + cluster + " is running");
  return plan;
}

Result<UpgradeRun> StartUpgradeRun(const UpgradePlan& plan, const std::string& schematic,
                                   const std::optional<UpgradeRecord>& previous, std::int64_t now_ms) {
  UpgradeRun run;
  run.record.cluster = plan.cluster;
  run.record.version = plan.version;
  run.record.schematic = schematic;
  run.record.changed_unix = now_ms / 1000;
  if (previous) {
    // Until a node of this run moves, the profiles boot what they booted.
    run.record.pinned_version = previous->pinned_version;
    run.record.pinned_schematic = previous->pinned_schematic;
  }
  if (previous && previous->state == UpgradeRunState::kRunning && !previous->node.empty()) {
    if (previous->version != plan.version)
      return Status(ErrorCode::kFailedPrecondition,
                    "the upgrade of " + previous->node + " to " + previous->version +
                        " is not confirmed yet: finish it first (metalpxectl upgrade " + plan.cluster + " --to " +
                        previous->version + ")");
    const bool in_plan = std::any_of(plan.nodes.begin(), plan.nodes.end(),
                                     [&](const UpgradePlanNode& n) { return n.name == previous->node; });
    if (in_plan) {
      // Resume: wait for the node in flight, with a fresh bound.
      run.record.node = previous->node;
      run.record.node_since_ms = now_ms;
      run.phase = UpgradePhase::kWaitBack;
    }
  }
  if (previous && previous->state == UpgradeRunState::kRunning && previous->version == plan.version)
    for (const auto& n : previous->done)
      if (std::any_of(plan.nodes.begin(), plan.nodes.end(), [&](const UpgradePlanNode& p) { return p.name == n; }))
        run.record.done.push_back(n);
  return run;
}

UpgradeStep NextUpgradeStep(const UpgradePlan& plan, const UpgradeRun& run, const UpgradeLimits& limits,
                            std::int64_t now_ms) {
  using K = UpgradeStep::Kind;
  if (run.record.state == UpgradeRunState::kFailed) return {K::kFailed, run.record.node, "", {}, run.record.reason};
  const UpgradePlanNode* node = CurrentNode(plan, run);
  if (run.record.state == UpgradeRunState::kDone || node == nullptr) return {K::kDone, "", "", {}, ""};
  switch (run.phase) {
    case UpgradePhase::kLook:
      return {K::kLook, node->name, "", {}, ""};
    case UpgradePhase::kPeers:
      return {K::kCheckPeers, node->name, "", {}, ""};
    case UpgradePhase::kCall:
      return {K::kCallUpgrade, node->name, node->image, {}, ""};
    case UpgradePhase::kWaitBack:
      break;
  }
  const auto waited = std::chrono::milliseconds(now_ms - run.record.node_since_ms);
  if (waited >= limits.node_timeout)
    return {K::kFailed, node->name, "", {},
            node->name + " did not come back on " + plan.version + " within " + Seconds(limits.node_timeout) +
                " of its upgrade" + (run.last.empty() ? "" : " (last answer: " + run.last + ")")};
  auto delay = limits.first_poll;
  for (int i = 0; i < run.polls && delay < limits.max_poll; ++i) delay *= 2;
  delay = std::min({delay, limits.max_poll, limits.node_timeout - waited});
  return {K::kLook, node->name, "", delay, ""};
}

void OnLooked(const UpgradePlan& plan, UpgradeRun& run, const std::string& node, const VersionAnswer& answer,
              std::int64_t now_ms) {
  const UpgradePlanNode* current = CurrentNode(plan, run);
  if (run.record.state != UpgradeRunState::kRunning || current == nullptr || current->name != node) return;
  if (answer.tag && *answer.tag == plan.version) {
    NodeReached(plan, run, node, now_ms);
    return;
  }
  if (run.phase == UpgradePhase::kWaitBack) {
    ++run.polls;
    run.last = answer.tag ? "still " + *answer.tag : answer.error;
    return;
  }
  if (!answer.tag) {
    Fail(run, node + " does not answer Version, not upgrading it: " + answer.error, now_ms);
    return;
  }
  run.phase = current->role == Role::kControlPlane ? UpgradePhase::kPeers : UpgradePhase::kCall;
}

void OnPeersChecked(UpgradeRun& run, const std::string& node, const std::vector<std::string>& down,
                    std::int64_t now_ms) {
  if (run.record.state != UpgradeRunState::kRunning || run.phase != UpgradePhase::kPeers) return;
  if (down.empty()) {
    run.phase = UpgradePhase::kCall;
    return;
  }
  std::string list;
  for (const auto& d : down) list += (list.empty() ? "" : "; ") + d;
  Fail(run, "not upgrading control plane " + node + " while another control plane does not answer (" + list + ")",
       now_ms);
}

void BeforeUpgradeCall(UpgradeRun& run, const std::string& node, std::int64_t now_ms) {
  // From the call on, a reinstall of any node must install the target.
  run.unpinned_version = run.record.pinned_version;
  run.unpinned_schematic = run.record.pinned_schematic;
  PinTarget(run.record);
  run.record.node = node;
  run.record.node_since_ms = now_ms;
  run.record.changed_unix = now_ms / 1000;
}

void OnUpgradeCalled(UpgradeRun& run, const std::string& node, const UpgradeCallAnswer& answer, std::int64_t now_ms) {
  if (run.record.state != UpgradeRunState::kRunning || run.record.node != node) return;
  if (answer.accepted || answer.deadline_exceeded) {
    // No answer in time is not a refusal: Talos may be pulling the image.
    // The wait decides (the node answers the target, or the bound passes).
    run.phase = UpgradePhase::kWaitBack;
    run.polls = 0;
    run.last = answer.accepted ? "" : answer.message;
    return;
  }
  run.record.node.clear();  // refused: nothing in flight, nothing moved
  run.record.node_since_ms = 0;
  if (run.record.done.empty()) {
    run.record.pinned_version = run.unpinned_version;
    run.record.pinned_schematic = run.unpinned_schematic;
  }
  Fail(run, node + " refused the upgrade: " + answer.message, now_ms);
}

std::string SharedProfileProblem(const AppConfig& config, const std::string& cluster) {
  if (!config.inventory) return "";
  auto profile_of = [&](const MachineConfig& m) { return m.profile.empty() ? config.boot.default_profile : m.profile; };
  std::set<std::string> ours;
  for (const auto& m : config.inventory->machines)
    if (m.cluster == cluster) ours.insert(profile_of(m));
  for (const auto& m : config.inventory->machines)
    if (m.cluster != cluster && ours.contains(profile_of(m)))
      return "profile '" + profile_of(m) + "' is also used by machine " + m.name + " outside cluster " + cluster +
             ": give the cluster's machines their own profile, so pinning its version changes only them";
  return "";
}

PinOutcome ApplyUpgradePins(AppConfig& config, const std::vector<UpgradeRecord>& records) {
  PinOutcome out;
  if (!config.inventory) return out;
  for (const auto& r : records) {
    if (!config.clusters.contains(r.cluster)) continue;  // a cluster no longer configured
    if (r.pinned_version.empty()) continue;  // no node moved yet
    if (std::string problem = SharedProfileProblem(config, r.cluster); !problem.empty()) {
      out.conflicts.push_back("cluster " + r.cluster + " (" + r.version + "): " + problem);
      continue;
    }
    std::set<std::string> profiles;
    for (const auto& m : config.inventory->machines)
      if (m.cluster == r.cluster) profiles.insert(m.profile.empty() ? config.boot.default_profile : m.profile);
    for (const auto& name : profiles) {
      auto it = config.profiles.find(name);
      if (it == config.profiles.end()) continue;
      ProfileConfig& p = it->second;
      const std::string& version = r.pinned_version;
      const std::string& schematic = r.pinned_schematic;
      if (p.talos_version == version && (schematic.empty() || p.schematic == schematic)) continue;
      if (schematic.empty() && p.schematic.empty()) {
        out.conflicts.push_back("profile '" + name + "' of cluster " + r.cluster + " names no schematic to boot " +
                                version + " from");
        continue;
      }
      // The boot assets follow (Image Factory download of this version);
      // local kernel/initramfs files give way to them.
      p.talos_version = version;
      if (!schematic.empty()) {
        p.schematic = schematic;
        p.schematic_file.clear();
      }
      p.kernel.clear();
      p.initramfs.clear();
      p.kernel_sha256.clear();
      p.initramfs_sha256.clear();
      // secureBoot uki: the UKI is the version's too (Image Factory's, signed).
      p.uki.clear();
      p.uki_sha256.clear();
      out.pinned.push_back(name + ": " + version + " (cluster " + r.cluster + ")");
    }
  }
  return out;
}

}  // namespace metalpxe
