#pragma once
// A client of one Talos node's machine API (apid, machine.MachineService on
// port 50000), from Talos's own proto definitions (api/proto/machine/
// machine_api.proto). Each node is dialled directly: no `nodes` metadata
// (apid's proxying to other nodes is deprecated upstream).
//
// Two ways in, as talosctl has them:
//   - Connect(): mutual TLS with the cluster's talosconfig credentials. The
//     node's certificate must chain to the talosconfig's CA and name the
//     address dialled (Talos puts the node's addresses in its apid
//     certificate); our certificate's Organization is our role (os:admin).
//   - ConnectMaintenance(): a node in maintenance mode (booted without
//     talos.config) serves TLS with a self-made certificate and takes no
//     client certificate, like `talosctl --insecure`: encrypted, but the
//     node is not authenticated. Only ApplyConfiguration (and Version,
//     Events, as Talos grants its maintenance "reader") is meant for it.
//
// Threading: every call is SYNCHRONOUS and blocks its caller until the node
// answers or the call's deadline passes (each call has one; none waits
// longer). Run them on a worker thread, never on an event loop. A client
// object may be used from several threads at once (gRPC channels are
// thread-safe); Events can be stopped from another thread with a CancelToken.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/talos_event.h"
#include "core/secret.h"
#include "core/talosconfig.h"
#include "talos/call_error.h"

namespace grpc {
class Channel;
class ClientContext;
class Status;
}  // namespace grpc

namespace metalpxe::talos {

inline constexpr std::uint16_t kApidPort = 50000;

// Per-call deadlines (a caller may pass others). Upgrade is long because
// Talos pulls and validates the installer image before it answers.
struct Timeouts {
  static constexpr std::chrono::seconds kVersion{10};
  static constexpr std::chrono::seconds kBootstrap{30};  // Talos waits up to 5 s for time sync itself
  static constexpr std::chrono::seconds kKubeconfig{30};
  static constexpr std::chrono::seconds kEtcdMemberList{15};
  static constexpr std::chrono::seconds kApply{60};
  static constexpr std::chrono::seconds kUpgrade{300};
};

// Largest kubeconfig archive accepted (Talos's is a few KiB).
inline constexpr std::size_t kMaxKubeconfigArchive = 4 << 20;

struct NodeVersion {
  std::string tag;            // "v1.9.5"
  std::string sha;
  std::string arch;           // "amd64"
  std::string platform;       // "metal"
  std::string platform_mode;  // "metal", "container", ...
};

enum class BootstrapOutcome {
  kBootstrapped,         // this call created the cluster's etcd
  kAlreadyBootstrapped,  // AlreadyExists "etcd data directory is not empty": done before
};

struct EtcdMember {
  std::uint64_t id = 0;
  std::string hostname;
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
  bool is_learner = false;
};

struct ApplyOutcome {
  std::string mode;          // the mode Talos chose: "NO_REBOOT", "REBOOT", "STAGED", ...
  std::string mode_details;  // Talos's human-readable summary
  std::vector<std::string> warnings;
};

enum class ApplyMode { kAuto = 1, kNoReboot = 2, kStaged = 3 };  // Talos's ApplyConfigurationRequest.Mode values

struct EventsOptions {
  int tail_events = 0;     // replay this many past events first (0: only new ones; -1: all kept)
  int tail_seconds = 0;    // or those of the last N seconds
  std::string tail_id;     // or those after this event id
  std::string actor_id;    // only events of this actor (an API call's)
};

// Lets another thread end a blocking Events call.
class CancelToken {
 public:
  void Cancel();
  bool cancelled() const;

 private:
  friend class MachineClient;
  void Attach(grpc::ClientContext* ctx);
  void Detach();
  mutable std::mutex mu_;
  grpc::ClientContext* ctx_ = nullptr;
  bool cancelled_ = false;
};

class MachineClient {
 public:
  // `host` is the node's address (an IPv4 literal or a name its certificate
  // carries); `port` normally kApidPort.
  static Result<MachineClient> Connect(const std::string& host, std::uint16_t port, const TalosCredentials& creds);
  static Result<MachineClient> ConnectMaintenance(const std::string& host, std::uint16_t port);

  const std::string& node() const { return node_; }  // "host:port", for messages

  CallResult<NodeVersion> Version(std::chrono::milliseconds timeout = Timeouts::kVersion) const;
  CallResult<BootstrapOutcome> Bootstrap(std::chrono::milliseconds timeout = Timeouts::kBootstrap) const;
  // The admin kubeconfig (YAML), extracted from Talos's tar.gz stream.
  CallResult<Secret> Kubeconfig(std::chrono::milliseconds timeout = Timeouts::kKubeconfig) const;
  CallResult<std::vector<EtcdMember>> EtcdMemberList(
      std::chrono::milliseconds timeout = Timeouts::kEtcdMemberList) const;
  CallResult<ApplyOutcome> ApplyConfiguration(const Secret& config, ApplyMode mode = ApplyMode::kAuto,
                                              std::chrono::milliseconds timeout = Timeouts::kApply) const;
  // Returns Talos's acknowledgement ("Upgrade request received").
  CallResult<std::string> Upgrade(const std::string& installer_image, bool preserve = false,
                                  std::chrono::milliseconds timeout = Timeouts::kUpgrade) const;

  // Streams the node's events to `on_event` (decoded as api/ decodes the
  // event sink's; the stream's empty "hello" event is skipped) until
  // `on_event` returns false, `cancel` is cancelled, the node ends the stream
  // or `timeout` passes. Returns how many events were delivered; ending by
  // on_event, cancel or timeout after the stream had started is not an error.
  CallResult<int> Events(const EventsOptions& options, const std::function<bool(const TalosEvent&)>& on_event,
                         std::chrono::milliseconds timeout, CancelToken* cancel = nullptr) const;

 private:
  MachineClient(std::shared_ptr<grpc::Channel> channel, std::string host, std::uint16_t port,
                std::optional<TalosCredentials> creds);
  // Classifies a failed call; a vague TLS failure is explained by a direct handshake (tls_probe.h).
  CallError Fail(const grpc::Status& st, std::string_view call) const;

  std::shared_ptr<grpc::Channel> channel_;
  std::string node_;  // "host:port"
  std::string host_;
  std::uint16_t port_ = kApidPort;
  std::optional<TalosCredentials> creds_;  // nullopt: maintenance (no client certificate)
};

}  // namespace metalpxe::talos
