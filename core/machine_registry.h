#pragma once
// What metalpxe knows about each machine at run time: its lifecycle state,
// when and how it was last seen, which address it has, and the event history.
// The inventory (ConfigSource) says what a machine should be; the registry
// says where it is. Thread-safe: the DHCP loop, HTTP workers and gRPC
// handlers all report to it. Writes go to the Store asynchronously (nothing
// here waits for a disk on the boot path).
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/config_source.h"
#include "core/machine_lifecycle.h"
#include "core/store.h"

namespace metalpxe {

// The event kind a machine's Secure Boot report is recorded under.
inline constexpr std::string_view kSecureBootEventKind = "secure-boot";

// The subject of a cluster's events ("cluster/prod"): no machine name has a '/'.
inline constexpr std::string_view kClusterEventPrefix = "cluster/";

struct BootObservation {
  MacAddress mac;
  std::optional<Ipv4Address> ip;
  std::string uuid;
  std::string arch;
  std::string vendor_class;
  std::string serial;
};

struct MachineRegistryOptions {
  // Machines not in the inventory that are kept at once. Anyone on the
  // boot network can make up MACs: past this bound new ones are counted
  // and not recorded, so a flood cannot push out real machines' history.
  std::size_t max_unknown_machines = 4096;
  // A machine seen again with nothing new is written at most this often
  // (its last-seen time is the only change).
  std::int64_t last_seen_write_seconds = 60;
};

class MachineRegistry {
 public:
  using Clock = std::function<std::int64_t()>;  // unix milliseconds
  using EventListener = std::function<void(const EventRecord&)>;

  using Options = MachineRegistryOptions;

  MachineRegistry(const ConfigSource& config, Store* store, Clock clock = {}, Options options = {});

  // Restores machine records and the event sequence from the store.
  Status Load();
  // Several appliances share the store (etcd): takes what another appliance
  // recorded since (a newer state change, a later sighting and its address,
  // machines it discovered), so every appliance lists the same machines in
  // the same states. Events are not merged. Blocking (a store read): never
  // on an event loop. Returns how many records changed here.
  Result<std::size_t> MergeFromStore();

  // The inventory machine a MAC belongs to (any of its MACs), in `config`.
  static const MachineConfig* InventoryMachine(const AppConfig& config, const MacAddress& mac);

  // State of a MAC's machine: its record's, or pending-install for an
  // inventory machine never seen, or discovered for an unknown one.
  MachineState StateOf(const MacAddress& mac) const;
  std::optional<MachineRecord> Get(const MacAddress& mac) const;
  std::optional<MachineRecord> GetByName(const std::string& name) const;
  // Every inventory machine (seen or not) and every discovered MAC.
  std::vector<MachineRecord> List() const;

  // A machine showed up (DHCP, iPXE). Unknown MACs are recorded as
  // discovered when the policy is discover.
  void ObserveBoot(const BootObservation& seen);
  // Which machine holds this address now (DHCP lease or last boot request).
  std::optional<MacAddress> MacForAddress(Ipv4Address ip) const;
  std::optional<Ipv4Address> AddressOf(const MacAddress& mac) const;

  // Applies a lifecycle event; returns the new state when it changed.
  // `cause` says what happened ("talos: sequence install finished"),
  // `reason` is kept on failed states.
  std::optional<MachineState> Apply(const MacAddress& mac, LifecycleEvent event, const std::string& cause,
                                    const std::string& reason = "");

  // After an inventory reload: machines that were discovered and are now in
  // the inventory become pending-install without a power cycle.
  void OnInventoryChanged(const AppConfig& fresh);

  // Event history and live listeners (API watch). An event that says again
  // what the machine's previous event said (same kind and message) is not
  // recorded: history holds changes of meaning, not repeated requests.
  void RecordEvent(const MacAddress& mac, const std::string& kind, const std::string& message);
  // An event of a named cluster (kind "cluster", subject "cluster/<name>"):
  // bootstrapped, or why not. Same history and "no repeats" rule.
  void RecordClusterEvent(const std::string& cluster, const std::string& message);
  // A management API call that changed (or tried to change) something, kind
  // "api": always recorded, repeats included (each is someone's action).
  // `machine`: the machine's event name, or "" for the appliance itself.
  void RecordApiEvent(const std::string& machine, const std::string& message);
  std::vector<EventRecord> RecentEvents(std::int64_t after_id, std::size_t limit) const;
  // What the machine's kernel last reported about Secure Boot ("on", "off";
  // "" before it reported): from its "secure-boot" events, which the
  // provisioning service records from the kernel's log.
  std::string SecureBootOf(const MacAddress& mac) const;
  int Subscribe(EventListener listener);
  // Every recorded event with the machine's primary MAC, under the
  // registry's lock (must only queue, never call back in): the boot
  // timeline's feed of state changes and power actions.
  using MachineEventHook = std::function<void(const MacAddress& primary, const EventRecord&)>;
  void SetMachineEventHook(MachineEventHook hook);
  // The MAC a machine's records and timeline are kept under: the first of
  // its inventory MACs, or the MAC itself.
  MacAddress PrimaryOf(const MacAddress& mac) const { return PrimaryMac(*config_.Current(), mac); }
  void Unsubscribe(int id);

  // Unknown MACs not recorded because max_unknown_machines was reached.
  std::uint64_t unknown_machines_dropped() const;

 private:
  MacAddress PrimaryMac(const AppConfig& config, const MacAddress& mac) const;
  std::string KeyName(const AppConfig& config, const MacAddress& primary) const;
  MachineRecord& RecordLocked(const AppConfig& config, const MacAddress& primary);
  void PersistLocked(const MachineRecord& r);
  void CountUnknownLocked(const AppConfig& config);
  // May a record exist for `primary`? (Past the bound, unknown MACs may not.)
  bool AdmitLocked(const AppConfig& config, const MacAddress& primary);
  void EmitLocked(const MacAddress& primary, const std::string& machine, const std::string& kind,
                  const std::string& message);
  std::int64_t NowMs() const;

  const ConfigSource& config_;
  Store* store_;
  Clock clock_;
  Options options_;
  mutable std::mutex mu_;
  std::map<MacAddress, MachineRecord> records_;  // by primary MAC
  std::unordered_map<Ipv4Address, MacAddress> by_ip_;
  std::deque<EventRecord> recent_;  // bounded in-memory history
  std::int64_t next_event_id_ = 1;
  std::map<int, EventListener> listeners_;
  MachineEventHook machine_event_hook_;
  int next_listener_ = 1;
  // The last event of each machine (kind, message), for "no repeats".
  std::unordered_map<std::string, std::pair<std::string, std::string>> last_event_;
  // Each machine's last "secure-boot" event ("Secure Boot: on"/"off"), by event name.
  std::unordered_map<std::string, std::string> secure_boot_;
  std::unordered_map<MacAddress, std::int64_t> persisted_seen_;  // last_seen_unix as last written
  // State and its time as this appliance last wrote them (MergeFromStore:
  // a stored record that is not our own last write was written after it).
  std::unordered_map<MacAddress, std::pair<MachineState, std::int64_t>> persisted_state_;
  std::uint64_t unknown_dropped_ = 0;
  std::size_t unknown_records_ = 0;  // records of MACs not in the inventory
};

}  // namespace metalpxe
