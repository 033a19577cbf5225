#pragma once
// The stand-in's apid: machine.MachineService on port 50000 as a Talos node
// serves it (siderolabs/talos machined v1alpha1_server.go, the authz table
// in machined.go, the maintenance API config), for the calls metalpxe makes.
//
// Running mode (a node booted from its disk with a config):
//   - TLS with an Ed25519 server certificate issued from the config's
//     machine.ca, naming the node's addresses and hostname; client
//     certificates REQUIRED and verified against machine.ca;
//   - the caller's roles are its certificate's Organization values, with
//     Talos's per-call permissions (Bootstrap, Kubeconfig, Upgrade: os:admin;
//     Version, Events: admin/operator/reader; EtcdMemberList: those and
//     os:etcd:backup) and Talos's "not authorized" refusal;
//   - Bootstrap: FailedPrecondition ("bootstrap is not available yet", then
//     "time is not in sync yet") for the first `not_ready_bootstraps` calls,
//     then OK once, then AlreadyExists "etcd data directory is not empty";
//     persisted, so a restart (a reboot) remembers it;
//   - Kubeconfig: after Bootstrap, the admin kubeconfig as a tar.gz in
//     common.Data chunks; FailedPrecondition before (stricter than Talos,
//     which serves it from the config at any time: see the README);
//   - EtcdMemberList: this node once bootstrapped;
//   - Upgrade: pulls the image first (only Sidero's and Image Factory's
//     installer references with a release tag exist, and of those only
//     `installer_versions` when given: else Talos's "error validating
//     installer image"), records it, answers, "reboots" (the API goes away
//     for reboot_time) and comes back reporting the image's version;
//   - Events: Talos's stream (a "hello" event, then tail, then live), with
//     type URLs "talos/runtime/machine.<Event>" as Talos sends them.
// Workers (no machine.ca key in their config) get their apid certificate
// from trustd on the control plane endpoint's host (trustd.h), which control
// planes serve on port 50001.
// Maintenance mode (no talos.config): TLS with a self-signed certificate, no
// client certificate asked for, every caller is os:reader (Talos's
// maintenance API): ApplyConfiguration is accepted (then the stand-in
// installs with that config), Version and Events answer, Bootstrap,
// Kubeconfig and Upgrade are "not authorized", EtcdMemberList has no
// machine type yet.
//
// Runs on the host too (metalpxe_standin_apid), so metalpxe's client is
// tested against it without QEMU.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "tests/e2e/installer/machine_config_facts.h"

namespace metalpxe::standin {

struct ApidSettings {
  std::string listen = "0.0.0.0:50000";
  std::vector<std::string> addresses;  // IP SANs of the server certificate
  std::string talos_version = "v1.9.5";
  int not_ready_bootstraps = 2;
  std::string state_path;  // file or block device keeping bootstrap/upgrade state; "" = memory
  long state_offset = 0;   // byte offset of the 512-byte state record in state_path
  std::chrono::milliseconds reboot_time{1500};
  // The installer versions the registry has ("" = every release tag): an
  // Upgrade to another is refused as Talos refuses an image it cannot pull.
  std::vector<std::string> installer_versions;
  std::chrono::seconds trustd_budget{120};  // a worker waits this long for trustd
};

// What survives a reboot (Talos keeps it on its STATE/EPHEMERAL partitions).
struct ApidState {
  bool bootstrapped = false;
  std::string version;        // "" = settings' talos_version
  std::string upgrade_image;  // the last Upgrade's image
};
Result<ApidState> LoadApidState(const std::string& path, long offset);
Status SaveApidState(const std::string& path, long offset, const ApidState& state);

class StandinApid {
 public:
  static Result<std::unique_ptr<StandinApid>> Running(MachineConfigFacts facts, ApidSettings settings);
  static Result<std::unique_ptr<StandinApid>> Maintenance(ApidSettings settings);
  ~StandinApid();

  // Serves until Stop() or (maintenance) a config was applied; running mode
  // restarts the server itself across an upgrade's reboot.
  void Serve();
  void Stop();
  // Maintenance: the config ApplyConfiguration delivered, once Serve() returned.
  std::optional<std::string> applied_config() const;

  struct Impl;

 private:
  explicit StandinApid(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "https://10.66.0.11:6443" -> "10.66.0.11"; "" unless the host is an IPv4 literal.
std::string EndpointHost(const std::string& endpoint);

// The Talos version an installer image reference carries
// ("ghcr.io/siderolabs/installer:v1.10.0", "factory.talos.dev/installer/<id>:v1.10.0").
std::optional<std::string> VersionOfInstallerImage(const std::string& image);

}  // namespace metalpxe::standin
