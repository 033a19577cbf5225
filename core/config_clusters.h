#pragma once
// The `clusters:` section of the appliance config and the per-machine and
// per-profile keys that refer to it (`cluster`, `configDelivery`), read and
// validated here so the main loaders only call in (docs/config.md "clusters").
// A cluster is one `talosctl gen config` run: its talosconfig (the client
// credentials metalpxe calls the Talos API with) and its two base configs,
// checked to belong together (the base configs' machine.ca.crt is the
// talosconfig's CA). Machines without a cluster keep working: their
// profile's `configs` act as an unnamed cluster that is never bootstrapped.
#include <optional>
#include <string>

#include <yaml-cpp/yaml.h>

#include "core/config.h"
#include "core/yaml_fields.h"

namespace metalpxe {

// Loader hook: reads `clusters` (a map of name to cluster; may be undefined)
// into cfg.clusters. Talosconfig and base-config problems are reported in
// those files at their line and column.
void ReadClusters(ProblemSink& sink, const YAML::Node& clusters, const std::string& base_dir, AppConfig& cfg);

// Profile hook: `configDelivery`.
void ReadProfileClusterKeys(MapReader& r, ProfileConfig& p);

// Inventory hook: `cluster` (must name a cluster) and `configDelivery`; a
// machine without a cluster needs a profile with `configs`.
void ReadMachineClusterKeys(MapReader& r, const AppConfig& cfg, MachineConfig& m);

// --- Lookups over a validated config (phase 2 of issue 15 wires these) ---

// The machine's named cluster; nullptr for a machine of the unnamed cluster
// (its profile's configs).
const ClusterConfig* ClusterOf(const AppConfig& cfg, const MachineConfig& m);

// The base config (talosctl gen config output) for the machine's role: its
// cluster's, else its profile's. nullopt when neither has one for the role.
std::optional<std::string> BaseConfigPathFor(const AppConfig& cfg, const MachineConfig& m);

// The machine's own configDelivery, else its profile's, else url.
ConfigDelivery ConfigDeliveryFor(const AppConfig& cfg, const MachineConfig& m);

}  // namespace metalpxe
