#pragma once
// The durable state of one appliance: DHCP leases, machine runtime state,
// issued config tokens, the named clusters' bootstrap and upgrade records,
// the machines waiting for their config by apply, timelines and the event
// history. The interface is what protocol
// modules see; SqliteStore (sqlite_store.h) is the embedded default, and an
// etcd-backed store can sit behind the same calls later.
//
// Writes are asynchronous and batched: every Put/Append returns at once and
// its `done` callback runs (on the store's writer thread) once the write is
// durable on disk, or failed. Many writes share one transaction and one fsync
// (group commit), so a DHCP server can hold each ACK until its lease is safe
// without paying an fsync per packet. Callers post `done` back to their own
// event loop; it must not block.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/cluster_state.h"
#include "core/cluster_upgrade.h"
#include "core/machine_state.h"
#include "core/net_types.h"
#include "core/result.h"
#include "core/timeline.h"

namespace metalpxe {

using DurableCallback = std::function<void(const Status&)>;

struct LeaseRecord {
  Ipv4Address ip;
  MacAddress mac;
  std::string client_id;        // option 61 as lower-case hex, "" when absent
  std::int64_t expires_unix = 0;  // seconds since epoch
  std::string hostname;         // option 12 as the client sent it
  enum class Kind { kActive, kDeclined, kReleased } kind = Kind::kActive;
};

struct MachineRecord {
  MacAddress mac;               // primary key: the MAC the machine booted with
  std::string name;             // inventory name, "" while only discovered
  MachineState state = MachineState::kDiscovered;
  std::string reason;           // why it failed, "" otherwise
  std::string uuid;             // SMBIOS UUID from iPXE
  std::string arch;             // iPXE ${buildarch} or DHCP option 93 class
  std::string vendor_class;     // option 60
  std::string serial;
  Ipv4Address last_ip;
  std::int64_t first_seen_unix = 0;
  std::int64_t last_seen_unix = 0;
  std::int64_t state_changed_unix = 0;
};

struct TokenRecord {
  std::string token_hash;       // sha256 hex of the token; the token itself is never stored
  MacAddress mac;
  std::optional<Ipv4Address> bound_ip;
  std::int64_t issued_unix = 0;
  std::int64_t expires_unix = 0;
  int max_fetches = 0;
  int fetches = 0;
};

// A machine installed without PXE (a Hetzner rescue image) or served an
// installer without a config URL (configDelivery apply): Talos waits in
// maintenance mode at `address` until the config is applied over its API.
// Kept so a restart between "installer/image served" and "config applied"
// still applies it.
struct ApplyTargetRecord {
  MacAddress mac;               // primary key: the machine's primary MAC
  std::string machine;          // inventory name
  Ipv4Address address;          // where Talos's API waits for the config
  std::int64_t since_unix = 0;  // when it became a target
};

struct EventRecord {
  std::int64_t id = 0;          // assigned by the store, increasing
  std::int64_t time_unix_ms = 0;
  std::string machine;          // machine name, or MAC when not in the inventory
  std::string kind;             // "state", "dhcp", "config-fetch", "talos", "power", ...
  std::string message;          // human-readable; never a secret
};

class Store {
 public:
  virtual ~Store() = default;

  // Fails with kAlreadyExists, writing nothing, when the address is held by
  // another MAC (the rule is LeaseWriteConflict in core/lease_ownership.h):
  // no address is granted twice, even by two appliances sharing one store.
  virtual void PutLease(const LeaseRecord& lease, DurableCallback done) = 0;
  virtual void DeleteLease(Ipv4Address ip, DurableCallback done) = 0;
  virtual Result<std::vector<LeaseRecord>> LoadLeases() = 0;

  virtual void PutMachine(const MachineRecord& machine, DurableCallback done) = 0;
  virtual Result<std::vector<MachineRecord>> LoadMachines() = 0;

  virtual void PutToken(const TokenRecord& token, DurableCallback done) = 0;
  virtual void DeleteExpiredTokens(std::int64_t now_unix, DurableCallback done) = 0;
  virtual Result<std::vector<TokenRecord>> LoadTokens() = 0;

  // Named clusters' bootstrap records (cluster_state.h), by name.
  virtual void PutCluster(const ClusterRecord& cluster, DurableCallback done) = 0;
  virtual Result<std::vector<ClusterRecord>> LoadClusters() = 0;

  // Each named cluster's latest upgrade (cluster_upgrade.h), by cluster: a
  // put replaces the cluster's record. Its version pins the cluster's profiles.
  virtual void PutUpgrade(const UpgradeRecord& upgrade, DurableCallback done) = 0;
  virtual Result<std::vector<UpgradeRecord>> LoadUpgrades() = 0;

  // Machines waiting for their config by apply, by MAC: a put replaces the
  // MAC's record, a delete of an absent MAC succeeds.
  virtual void PutApplyTarget(const ApplyTargetRecord& target, DurableCallback done) = 0;
  virtual void DeleteApplyTarget(const MacAddress& mac, DurableCallback done) = 0;
  virtual Result<std::vector<ApplyTargetRecord>> LoadApplyTargets() = 0;

  virtual void AppendEvent(const EventRecord& event, DurableCallback done) = 0;
  // Events with id > after_id, oldest first, at most `limit`.
  virtual Result<std::vector<EventRecord>> LoadEvents(std::int64_t after_id, std::size_t limit) = 0;

  // Each machine's boot timeline (core/timeline.h), keyed by (mac, seq):
  // a put of an existing key replaces it. Trim deletes the machine's entries
  // with seq < keep_from_seq. Load returns the newest `limit`, oldest first.
  virtual void PutTimelineEntry(const TimelineEntry& entry, DurableCallback done) = 0;
  virtual void TrimTimeline(const MacAddress& mac, std::int64_t keep_from_seq, DurableCallback done) = 0;
  virtual Result<std::vector<TimelineEntry>> LoadTimeline(const MacAddress& mac, std::size_t limit) = 0;

  // Blocks until every write submitted before the call is durable (or failed).
  virtual Status Flush() = 0;
};

}  // namespace metalpxe
