#pragma once
// The one place that decides what happens to a machine (the shape of
// Matchbox's server.Server): which boot file its DHCP answer names, which
// iPXE script it gets, which machine and profile an installer is, which
// config a token opens, what a Talos event means for its state, and the
// reinstall jobs. The DHCP server, the HTTP endpoints, the Talos event sink,
// the kernel-log receiver and the management API are adapters: they turn
// wire formats into these calls and the answers back into wire formats.
//
// Nothing here writes to disk on the boot path: config tokens are signed,
// not stored; the machine registry writes only when a machine's meaning
// changes, through the store's asynchronous group-committed writer.
// Thread-safe: DHCP, HTTP workers, gRPC handlers and timers all call in.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/accepted_machines.h"
#include "core/boot_client.h"
#include "core/config_source.h"
#include "core/install/config_tokens.h"
#include "core/ipv6_leases.h"
#include "core/machine_registry.h"
#include "core/provisioning/boot_decision.h"
#include "core/provisioning/boot_files.h"
#include "core/provisioning/boot_urls.h"
#include "core/provisioning/loader_start.h"
#include "core/provisioning/reinstall_jobs.h"
#include "core/provisioning/timeline_text.h"
#include "core/talos_event.h"
#include "core/timeline.h"

namespace metalpxe {

// What the DHCP server saw of one client.
struct DhcpSighting {
  MacAddress mac;
  std::optional<Ipv4Address> leased;  // the address it holds after this exchange (full mode)
  BootClient client;
  std::string vendor_class;  // option 60 as sent
  std::string uuid;          // option 97 as text
  // For the boot timeline: the exchange as the DHCP server answered it.
  // (Default member initializers: older aggregate initializations of the
  // first five fields stay valid and warning-free.)
  std::string received{};                // "DISCOVER", "REQUEST", ...; "" for a lease granted after its write
  std::string replied{};                 // "OFFER", "ACK", "NAK", "" for no reply
  std::optional<Ipv4Address> offered{};  // the reply's yiaddr
  std::string boot_file{};
  std::string boot_why{};
  bool proxy = false;
  // DHCPv6 (leases in memory, core/ipv6_leases.h): the address the exchange
  // bound or renewed until `leased6_until` (unix seconds), or gave up.
  std::optional<Ipv6Address> leased6{};
  std::int64_t leased6_until = 0;
  std::optional<Ipv6Address> released6{};
};

// GET /ipxe?mac=…&uuid=…&serial=…&arch=…&platform=…
struct IpxeRequest {
  MacAddress mac;
  Ipv4Address peer;       // where the request came from
  std::string uuid;       // as sent: anyone's to send, cleaned before it is kept
  std::string serial;
  std::string buildarch;  // iPXE's ${buildarch}
  std::string platform;   // iPXE's ${platform}
  // The request came over IPv6: the script's URLs and kernel args name
  // server.address6. `peer` is then unspecified and `peer6` says where it
  // came from; the config token is bound to the MAC's DHCPv6 lease when it
  // has one (core/ipv6_leases.h), else to the MAC only.
  IpFamily family = IpFamily::kIpv4;
  bool grub = false;      // asked by GRUB (the Secure Boot chain) over TFTP, not by iPXE
  std::optional<Ipv6Address> peer6{};
};

struct IpxeAnswer {
  enum class Kind {
    kInstall,       // kernel + initramfs + args
    kBootFromDisk,  // disk_mode
    kDiscover,      // held in a retry loop until accepted
    kIgnore,        // not ours to boot
    kRefused,       // the installer is not for this address (403)
  };
  Kind kind = Kind::kIgnore;
  std::string machine_name;
  Role role = Role::kWorker;
  BootFromDisk disk_mode = BootFromDisk::kExit;
  ProfileAssetUrls assets;
  std::string profile;                   // kInstall: whose kernel + initramfs
  std::vector<std::string> kernel_args;  // a secret: carries the config token
  // kInstall under secureBoot uki: iPXE hands the firmware assets.uki (as
  // Image Factory's PXE script does: `kernel <uki>`, `boot`), no arguments.
  bool uki = false;
  int retry_seconds = 0;
  std::string why;  // safe to log
};

struct ConfigAnswer {
  enum class Kind { kServed, kRefused, kFailed };
  Kind kind = Kind::kRefused;
  std::string yaml;  // kServed: the machine's config, a secret
  std::string why;   // safe to log
};

// A machine whose installer was served without talos.config (configDelivery
// apply): Talos waits in maintenance mode at `address` (where the installer
// was served) for ApplyConfiguration.
struct ConfigApplyTarget {
  MacAddress mac;
  std::string machine;
  Ipv4Address address;
};

// For /metrics.
struct ProvisioningCounters {
  std::atomic<std::uint64_t> scripts{0};
  std::atomic<std::uint64_t> install_scripts{0};
  std::atomic<std::uint64_t> tokens_issued{0};
  std::atomic<std::uint64_t> configs_served{0};
  std::atomic<std::uint64_t> configs_refused{0};
  std::atomic<std::uint64_t> configs_failed{0};
  std::atomic<std::uint64_t> configs_applied{0};
};

struct ProvisioningOptions {
  TokenKey token_key{};
  // Does tftpRoot hold this loader? (Asked for each boot client; the daemon
  // gives a cached answer.)
  std::function<bool(std::string_view)> loader_exists;
  // Seconds an unknown machine waits before asking again.
  int discover_retry_seconds = 15;
  MachineRegistry::Options registry;
  // Several appliances share the store (etcd): token fetch counts are read
  // from it at each fetch, and config-fetch events name this appliance.
  bool shared_store = false;
  std::string appliance;  // "<hostname>/<address>"; "" = not named in events
  MachineTimelineOptions timeline;
};

class ProvisioningService {
 public:
  // `store` may be null (memory only). `power` and `scheduler` may be null
  // when nothing can be powered (then reinstall requests are refused).
  ProvisioningService(const ConfigSource& config, Store* store, ProvisioningOptions options,
                      PowerControl* power = nullptr, Scheduler* scheduler = nullptr);

  // Restores machines, events and token fetch counts from the store.
  Status Load();

  // --- DHCP ---------------------------------------------------------------
  // The boot file a DHCP answer names for this client; nullopt for none.
  LoaderChoice LoaderFor(const BootClient& client, const MacAddress& mac) const;
  void OnDhcp(const DhcpSighting& seen);

  // --- HTTP boot path -----------------------------------------------------
  IpxeAnswer OnIpxe(const IpxeRequest& request);
  // GRUB (the Secure Boot chain, x86_64 UEFI) reads the machine's
  // grub.cfg-01-<mac> over TFTP from `peer`: the same decision, token and
  // checks as /ipxe, recorded as a TFTP step.
  IpxeAnswer OnGrubConfig(const MacAddress& mac, Ipv4Address peer);
  ConfigAnswer OnConfigFetch(std::string_view token, const IpAddress& peer);

  // --- configDelivery apply (the daemon's cluster driver calls the nodes) ---
  // Machines waiting for their config: installer served without
  // talos.config, still pending-install.
  std::vector<ConfigApplyTarget> ConfigApplyTargets() const;
  // The machine's rendered config for ApplyConfiguration (a secret); a
  // rendering failure fails the machine with the reason.
  Result<Secret> ConfigToApply(const MacAddress& mac);
  // Talos accepted the config at `address`: installing, no longer a target.
  void OnConfigApplied(const MacAddress& mac, Ipv4Address address, const std::string& mode);
  // Talos refused the config (InvalidArgument): failed with its reason.
  void OnConfigRejected(const MacAddress& mac, const std::string& reason);
  // Several appliances on one store: takes the targets as the store has them
  // (any appliance may have added one, the cluster's leader removes it once
  // applied), so the leader applies targets registered elsewhere and no
  // appliance keeps one another already applied. Blocking (a store read);
  // a change made here meanwhile is kept and the store read again next time.
  Status ReloadApplyTargets();
  // A machine reached without PXE (a Hetzner rescue image install) waits in
  // maintenance mode at `address`: a target until its config is applied.
  void AwaitConfigApply(const MacAddress& mac, const std::string& machine, Ipv4Address address);
  // GET /boot.ipxe (the chain script; no MAC yet, so known by address).
  // Peers of either family: an IPv6 one is known by its DHCPv6 lease.
  void OnChainScript(const IpAddress& peer);
  // Boot files fetched by TFTP or HTTP (iPXE, kernel, initramfs): timeline only.
  void OnTftpFetch(const IpAddress& peer, const TftpFetch& fetch);
  void OnHttpFileFetch(const IpAddress& peer, const HttpFileFetch& fetch);
  // A profile's signed UKI was fetched whole (secureBoot uki): the installer
  // is on its way without a word from iPXE, so the machine becomes a
  // configDelivery apply target here. Called by the two above, for IPv4
  // peers (an apply target is an IPv4 address).
  void OnUkiFetched(Ipv4Address peer, const std::string& profile, std::string_view how);

  // --- Talos --------------------------------------------------------------
  void OnTalosEvent(const TalosEvent& event);
  // One kernel-log line from this address; milestones go to the timeline.
  void OnKernelLog(const IpAddress& peer, std::string_view msg);
  // The name kernel logs from this address are kept under ("" = unknown).
  std::string LogKeyFor(const IpAddress& peer) const;
  // The machine at this address: its IPv4 lease or record, or its DHCPv6 lease.
  std::optional<MacAddress> MacForPeer(const IpAddress& peer) const;
  // The IPv6 address the MAC holds from our DHCPv6 now, if any.
  std::optional<Ipv6Address> Ipv6LeaseOf(const MacAddress& mac) const;

  // --- Operations (management API) ------------------------------------------
  Status RequestReinstall(const MacAddress& mac, bool wipe);
  void Power(const MacAddress& mac, PowerAction action, std::function<void(Result<std::string>)> done);
  void OnInventoryChanged(const AppConfig& fresh);
  // Accepts a discovered machine into <stateDir>/accepted-machines.yaml; the
  // caller reloads the inventory. kNotFound when the MAC was not discovered.
  Result<MacAddress> Accept(const AcceptRequest& request);

  MachineRegistry& registry() { return registry_; }
  const MachineRegistry& registry() const { return registry_; }
  const ProvisioningCounters& counters() const { return counters_; }
  MachineTimeline& timeline() { return timeline_; }
  const MachineTimeline& timeline() const { return timeline_; }
  std::uint64_t power_actions_ok() const { return jobs_ ? jobs_->power_actions_ok() : 0; }
  std::uint64_t power_actions_failed() const { return jobs_ ? jobs_->power_actions_failed() : 0; }

 private:
  IpxeAnswer DecideIpxe(const IpxeRequest& request);
  // " through <appliance>" on a shared store, "" otherwise: for events.
  std::string ThroughAppliance() const;
  IpxeAnswer InstallAnswer(const AppConfig& config, const IpxeRequest& request, const BootDecision& d);
  // A timeline entry for a machine the registry keeps (inventory or
  // recorded); nothing for MACs it does not (ignored, or past its bound).
  void RecordTimeline(const MacAddress& mac, TimelineSource source, const TimelineText& text);
  void RecordTimelineByAddress(const IpAddress& peer, TimelineSource source, const TimelineText& text);
  // configDelivery apply's targets, kept in the store too (a restart in
  // between still applies the config). The *Locked ones need apply_mu_.
  Status LoadApplyTargets();
  void SetApplyTargetLocked(const ConfigApplyTarget& target);
  void ClearApplyTargetLocked(const MacAddress& mac);
  // Refused loaders (loader_start.h): a loader fetched, its next step asked
  // for, the firmware's DHCP again.
  void NoteLoaderFetch(std::optional<MacAddress> mac, std::string_view fetched, bool ok);
  void NoteLoaderNextStep(const MacAddress& mac);
  void CheckLoaderStarted(const DhcpSighting& seen);

  const ConfigSource& config_;
  Store* store_;
  ProvisioningOptions options_;
  MachineTimeline timeline_;  // before the registry: its hook writes here
  MachineRegistry registry_;
  Ipv6Leases leases6_;  // before the tokens: their hook reads here
  ConfigTokenIssuer tokens_;
  std::unique_ptr<ReinstallJobs> jobs_;
  ProvisioningCounters counters_;
  std::mutex accept_mu_;  // one accept at a time writes the file
  mutable std::mutex apply_mu_;
  std::map<MacAddress, ConfigApplyTarget> apply_targets_;  // by the MAC the installer was served to
  std::uint64_t apply_changes_ = 0;  // under apply_mu_: local changes, so a reload never undoes a newer one
  std::mutex loader_mu_;
  std::map<MacAddress, LoaderHandout> loader_handouts_;  // the last loader each machine fetched
};

}  // namespace metalpxe
