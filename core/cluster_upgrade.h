#pragma once
// Rolling Talos upgrades of a named cluster (issue 15, `metalpxectl upgrade
// CLUSTER --to vX.Y.Z`): which nodes, in which order, with which installer
// image, and what to do next given what the nodes answered. Plain functions
// over plain data; daemon/cluster_upgrade_driver.h makes the calls (Version,
// Upgrade over mutual TLS) and feeds the answers back.
//
// Order: workers first, then control planes, each group by machine name,
// ONE node at a time: the next node is touched only after the previous one
// answers Version with the target over mutual TLS. So at most one node is
// down at any time, and never two control planes; before a control plane is
// upgraded every other control plane must answer (one already down plus
// ours would be two).
//
// Per node:
//   look ─answers the target─▶ done (no call: already there)
//   look ─answers another version─▶ [control plane: peers answer?] ─▶ Upgrade(image)
//   look ─no answer─▶ failed (a node that is not up is not upgraded)
//   Upgrade accepted (or its deadline passed: it may have been) ─▶ wait:
//       look again with backoff until it answers the target (done),
//       or the bound passes (failed: did not come back on the target)
//   Upgrade refused ─▶ failed with Talos's reason
// The first failure ends the run; later nodes are not touched.
//
// The record is persisted before each Upgrade call (the node in flight)
// and after each node, so a restart of metalpxed neither calls Upgrade
// twice on a node nor re-upgrades one already on the target: the run
// resumes by waiting for the node in flight.
//
// Version pins: once a node moved (or was found on the target), the profiles of the cluster's
// machines boot the record's version and schematic (ApplyUpgradePins), so a
// later reinstall installs what the cluster runs.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/machine_state.h"
#include "core/result.h"

namespace metalpxe {

enum class UpgradeRunState { kRunning, kDone, kFailed };
std::string_view UpgradeRunStateName(UpgradeRunState s);  // "running" | "done" | "failed"
std::optional<UpgradeRunState> ParseUpgradeRunState(std::string_view name);

// The persisted record of a cluster's latest upgrade (Store::PutUpgrade).
struct UpgradeRecord {
  std::string cluster;
  std::string version;    // the target, "v1.9.6"
  std::string schematic;  // "" = each profile's own
  UpgradeRunState state = UpgradeRunState::kRunning;
  std::string node;                // in flight: Upgrade called (or about to be), not back on the target yet
  std::int64_t node_since_ms = 0;  // when (unix ms) the bound of `node` started
  std::vector<std::string> done;   // nodes on the target, in the order they got there
  std::string reason;              // why it failed; never a secret
  std::int64_t changed_unix = 0;
  // What the cluster's profiles boot (ApplyUpgradePins): the version (and
  // schematic, "" = the profiles' own) nodes were last moved to, by this run
  // or an earlier one ("" = none moved yet: the profiles stay as configured).
  std::string pinned_version;
  std::string pinned_schematic;
};

// "v1.9.6", "v1.10.0-beta.1": Talos release tags.
bool IsTalosVersionTag(std::string_view version);
// 64 lower-case hex digits.
bool IsSchematicId(std::string_view schematic);

// The Image Factory installer image of a schematic and version, as Talos's
// Upgrade takes it: "factory.talos.dev/installer/<schematic>:v1.9.6" (the
// registry is the host of the profile's imageFactory URL).
Result<std::string> FactoryInstallerImage(std::string_view image_factory_url, std::string_view schematic,
                                          std::string_view version);

// One machine of the cluster, as the plan sees it.
struct UpgradeCandidate {
  std::string name;
  Role role = Role::kWorker;
  MachineState state = MachineState::kPendingInstall;
  std::string profile;
  std::string schematic;      // its profile's ("" when the profile boots local files)
  std::string image_factory;  // its profile's imageFactory URL
};

struct UpgradePlanNode {
  std::string name;
  Role role = Role::kWorker;
  std::string image;  // the installer image Upgrade gets
};

struct UpgradePlan {
  std::string cluster;
  std::string version;
  std::vector<UpgradePlanNode> nodes;  // in order: workers, then control planes
  std::vector<std::string> skipped;    // "wk-3: pending-install (a reinstall installs v1.9.6)"
};

// The plan for `version` (and `schematic`, "" = each profile's). Fails with
// the reason when the version or schematic is malformed, a running node's
// profile has no schematic and none was given, a control plane is not
// running (upgrading another would take two down), or no node is running.
// Workers that are not running are skipped: the pin installs the target
// when they are (re)installed.
Result<UpgradePlan> PlanUpgrade(const std::string& cluster, const std::vector<UpgradeCandidate>& nodes,
                                const std::string& version, const std::string& schematic);

// --- One run: its state and the step function ------------------------------

struct UpgradeLimits {
  // How long a node has, from its Upgrade call, to answer with the target
  // (Talos pulls the installer, installs, reboots).
  std::chrono::milliseconds node_timeout{std::chrono::minutes(15)};
  std::chrono::milliseconds first_poll{2'000};  // doubled after each look, up to max_poll
  std::chrono::milliseconds max_poll{30'000};
};

enum class UpgradePhase {
  kLook,      // ask the node its version before anything
  kPeers,     // a control plane: do the other control planes answer?
  kCall,      // call Upgrade
  kWaitBack,  // Upgrade accepted: wait for the node to answer with the target
};

struct UpgradeRun {
  UpgradeRecord record;
  UpgradePhase phase = UpgradePhase::kLook;
  int polls = 0;     // looks since the Upgrade call
  std::string last;  // the node in flight's last answer, for the failure's reason
  std::string unpinned_version, unpinned_schematic;  // the pin before the Upgrade call (a refusal restores it)
};

struct UpgradeStep {
  enum class Kind {
    kLook,         // call Version on `node` after `delay`, then OnLooked
    kCheckPeers,   // call Version on every other control plane, then OnPeersChecked
    kCallUpgrade,  // persist BeforeUpgradeCall, call Upgrade(image) on `node`, then OnUpgradeCalled
    kDone,         // every node answers the target
    kFailed,       // `reason`
  } kind = Kind::kDone;
  std::string node;
  std::string image;
  std::chrono::milliseconds delay{0};
  std::string reason;
};

// A fresh run of `plan`; `previous` is the cluster's stored record, if any.
// A previous run still in flight (state running) toward the same version
// resumes: its done nodes stay done and its node in flight gets a fresh
// bound from `now_ms` and is waited for, not called again. A different
// version while a node is in flight is refused (finish that one first).
Result<UpgradeRun> StartUpgradeRun(const UpgradePlan& plan, const std::string& schematic,
                                   const std::optional<UpgradeRecord>& previous, std::int64_t now_ms);

UpgradeStep NextUpgradeStep(const UpgradePlan& plan, const UpgradeRun& run, const UpgradeLimits& limits,
                            std::int64_t now_ms);

// What a Version call answered: the tag, or why there was no answer.
struct VersionAnswer {
  std::optional<std::string> tag;
  std::string error;
};
void OnLooked(const UpgradePlan& plan, UpgradeRun& run, const std::string& node, const VersionAnswer& answer,
              std::int64_t now_ms);
// `down`: "cp-2: <why>" for each other control plane that did not answer.
void OnPeersChecked(UpgradeRun& run, const std::string& node, const std::vector<std::string>& down,
                    std::int64_t now_ms);
// The record to persist before Upgrade is called on `node`.
void BeforeUpgradeCall(UpgradeRun& run, const std::string& node, std::int64_t now_ms);
struct UpgradeCallAnswer {
  bool accepted = false;
  bool deadline_exceeded = false;  // no answer in time: it may have been accepted
  std::string message;             // Talos's acknowledgement or refusal
};
void OnUpgradeCalled(UpgradeRun& run, const std::string& node, const UpgradeCallAnswer& answer, std::int64_t now_ms);

// --- Version pins ------------------------------------------------------------

// The profiles the records pin: each profile used by a machine of a
// record's cluster boots the record's pinned version (and its schematic,
// when the record names one). A profile also used by machines outside the cluster is
// left alone and reported in `conflicts` (PlanUpgrade refuses those).
struct PinOutcome {
  std::vector<std::string> pinned;     // "default: v1.9.6 (cluster prod)"
  std::vector<std::string> conflicts;  // why a pin was not applied
};
PinOutcome ApplyUpgradePins(AppConfig& config, const std::vector<UpgradeRecord>& records);

// Profiles of `cluster`'s machines that machines outside it also use ("" when none).
std::string SharedProfileProblem(const AppConfig& config, const std::string& cluster);

}  // namespace metalpxe
