#pragma once
// How EtcdStore lays its records out in etcd: the keys (all under the
// configured prefix, readable with `etcdctl get --prefix /metalpxe/`) and the
// values (small JSON objects with a format version, so another appliance
// version can read them and an operator can too). Pure functions: the
// decoders face whatever is in the cluster and are fuzzed
// (tests/fuzz/fuzz_etcd_store_codec.cpp).
//
//   <prefix>leases/<ip>            LeaseRecord     ("10.66.0.100": same order as SQLite's)
//   <prefix>machines/<mac>         MachineRecord
//   <prefix>tokens/<sha256 hex>    TokenRecord
//   <prefix>clusters/<name>        ClusterRecord
//   <prefix>upgrades/<cluster>     UpgradeRecord
//   <prefix>apply-targets/<mac>    ApplyTargetRecord (configDelivery apply: waiting for the config)
//   <prefix>events/<20-digit id>   EventRecord     (zero-padded: key order is id order)
//   <prefix>timeline/<mac>/<20-digit seq>  TimelineEntry (a machine's entries are one key range)
//   <prefix>meta/event-seq         last event id handed out (decimal)
//   <prefix>writers/<writer id>    a writer's last transaction number (see etcd_store_writer.h)
//   <prefix>leaders/...            election keys (etcd_election.h)
//   <prefix>shared/<name>          values every appliance shares (core/shared_values.h): made once,
//                                  secrets guarded by etcd's own access control (TLS client
//                                  certificates): shared/token-key, shared/api-ca; changed by
//                                  compare-and-swap: shared/client-configs, shared/revoked-client-certs
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/store.h"

namespace metalpxe::etcd {

class StoreKeys {
 public:
  explicit StoreKeys(std::string prefix) : prefix_(std::move(prefix)) {}
  const std::string& prefix() const { return prefix_; }

  std::string Lease(Ipv4Address ip) const { return LeasesPrefix() + ip.ToString(); }
  std::string LeasesPrefix() const { return prefix_ + "leases/"; }
  std::string Machine(const MacAddress& mac) const { return MachinesPrefix() + mac.ToString(); }
  std::string MachinesPrefix() const { return prefix_ + "machines/"; }
  std::string Token(const std::string& hash) const { return TokensPrefix() + hash; }
  std::string TokensPrefix() const { return prefix_ + "tokens/"; }
  std::string Cluster(const std::string& name) const { return ClustersPrefix() + name; }
  std::string ClustersPrefix() const { return prefix_ + "clusters/"; }
  std::string Upgrade(const std::string& cluster) const { return UpgradesPrefix() + cluster; }
  std::string UpgradesPrefix() const { return prefix_ + "upgrades/"; }
  std::string ApplyTarget(const MacAddress& mac) const { return ApplyTargetsPrefix() + mac.ToString(); }
  std::string ApplyTargetsPrefix() const { return prefix_ + "apply-targets/"; }
  std::string Event(std::int64_t id) const;
  std::string EventsPrefix() const { return prefix_ + "events/"; }
  std::string TimelinePrefix(const MacAddress& mac) const { return prefix_ + "timeline/" + mac.ToString() + "/"; }
  std::string TimelineEntryKey(const MacAddress& mac, std::int64_t seq) const;
  // The seq in a timeline key of `mac`; nullopt for any other key.
  std::optional<std::int64_t> TimelineSeq(const MacAddress& mac, std::string_view key) const;
  std::string EventSeq() const { return prefix_ + "meta/event-seq"; }
  std::string Writer(const std::string& id) const { return prefix_ + "writers/" + id; }
  std::string Shared(const std::string& name) const { return prefix_ + "shared/" + name; }

  // The id in an event key; nullopt for any other key.
  std::optional<std::int64_t> EventId(std::string_view key) const;

 private:
  std::string prefix_;
};

std::string EncodeLease(const LeaseRecord& lease);
Result<LeaseRecord> DecodeLease(std::string_view value);

std::string EncodeMachine(const MachineRecord& machine);
Result<MachineRecord> DecodeMachine(std::string_view value);

std::string EncodeToken(const TokenRecord& token);
Result<TokenRecord> DecodeToken(std::string_view value);

std::string EncodeCluster(const ClusterRecord& cluster);
Result<ClusterRecord> DecodeCluster(std::string_view value);

std::string EncodeUpgrade(const UpgradeRecord& upgrade);
Result<UpgradeRecord> DecodeUpgrade(std::string_view value);

std::string EncodeApplyTarget(const ApplyTargetRecord& target);
Result<ApplyTargetRecord> DecodeApplyTarget(std::string_view value);

// The id lives in the key, not in the value.
std::string EncodeEvent(const EventRecord& event);
Result<EventRecord> DecodeEvent(std::int64_t id, std::string_view value);

// The machine and seq live in the key, not in the value.
std::string EncodeTimelineEntry(const TimelineEntry& entry);
Result<TimelineEntry> DecodeTimelineEntry(const MacAddress& mac, std::int64_t seq, std::string_view value);

// Non-negative decimal without sign or leading junk.
std::string EncodeCounter(std::int64_t value);
Result<std::int64_t> DecodeCounter(std::string_view value);

}  // namespace metalpxe::etcd
