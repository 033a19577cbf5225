#pragma once
// EtcdStore: the Store (core/store.h) on an etcd cluster, so several
// appliances share one state: leases, machines, tokens and events live
// under one key prefix (layout in etcd_store_codec.h).
//
// The durability contract is SqliteStore's: a write's callback runs only
// after the etcd transaction holding it is committed (on a majority of the
// members, fsynced), or with the error that stopped it; writes are grouped
// into transactions (etcd_store_writer.h) so the DHCP rate holds. Lease
// writes are compare-and-swap: an address held by one MAC is never written
// for another, whichever appliance tries. When etcd has no quorum, writes
// fail with a Status for which etcd::IsNoQuorum() is true, within the
// client's call timeout; nothing hangs.
//
// Loads read on the caller's thread (blocking, within the call timeout),
// page by page at one revision so each load is a consistent snapshot.
#include <memory>
#include <string>

#include "core/shared_values.h"
#include "core/store.h"
#include "etcd/etcd_client.h"
#include "etcd/etcd_store_codec.h"
#include "etcd/etcd_store_writer.h"

namespace metalpxe::etcd {

class EtcdStore final : public Store, public SharedValues {
 public:
  // `prefix` ends with '/' (e.g. "/metalpxe/"). Fails when etcd cannot be
  // read (unreachable, no quorum), so a daemon does not start blind.
  static Result<std::unique_ptr<EtcdStore>> Open(std::shared_ptr<EtcdClient> client, std::string prefix,
                                                 EtcdStoreOptions options = {});
  // Commits every queued write (running their callbacks), then closes.
  ~EtcdStore() override;

  void PutLease(const LeaseRecord& lease, DurableCallback done) override;
  void DeleteLease(Ipv4Address ip, DurableCallback done) override;
  Result<std::vector<LeaseRecord>> LoadLeases() override;

  void PutMachine(const MachineRecord& machine, DurableCallback done) override;
  Result<std::vector<MachineRecord>> LoadMachines() override;

  void PutToken(const TokenRecord& token, DurableCallback done) override;
  void DeleteExpiredTokens(std::int64_t now_unix, DurableCallback done) override;
  Result<std::vector<TokenRecord>> LoadTokens() override;

  void PutCluster(const ClusterRecord& cluster, DurableCallback done) override;
  Result<std::vector<ClusterRecord>> LoadClusters() override;

  void PutUpgrade(const UpgradeRecord& upgrade, DurableCallback done) override;
  Result<std::vector<UpgradeRecord>> LoadUpgrades() override;

  void PutApplyTarget(const ApplyTargetRecord& target, DurableCallback done) override;
  void DeleteApplyTarget(const MacAddress& mac, DurableCallback done) override;
  Result<std::vector<ApplyTargetRecord>> LoadApplyTargets() override;

  // An event with time_unix_ms == 0 is stamped with the current time.
  void AppendEvent(const EventRecord& event, DurableCallback done) override;
  Result<std::vector<EventRecord>> LoadEvents(std::int64_t after_id, std::size_t limit) override;

  void PutTimelineEntry(const TimelineEntry& entry, DurableCallback done) override;
  void TrimTimeline(const MacAddress& mac, std::int64_t keep_from_seq, DurableCallback done) override;
  Result<std::vector<TimelineEntry>> LoadTimeline(const MacAddress& mac, std::size_t limit) override;

  // Must not be called from a write callback: returns kFailedPrecondition there.
  Status Flush() override;

  // <prefix>shared/<name>: created with a compare-and-swap on "absent",
  // read otherwise (blocking, within the call timeout). Never logged.
  Result<Secret> CreateOnce(const std::string& name, const Secret& candidate) override;
  // Revision: the key's mod_revision.
  Result<Versioned> Read(const std::string& name) override;
  Result<bool> Replace(const std::string& name, std::int64_t expected_revision, const std::string& value) override;

  EtcdStoreStats Stats() const { return writer_->Stats(); }
  const StoreKeys& keys() const { return keys_; }
  const std::shared_ptr<EtcdClient>& client() const { return client_; }

 private:
  EtcdStore(std::shared_ptr<EtcdClient> client, StoreKeys keys, std::unique_ptr<EtcdStoreWriter> writer);
  // Every key under `prefix`, decoded with `decode` (key, value) -> Result<T>.
  template <typename T, typename Decode>
  Result<std::vector<T>> LoadAll(const std::string& prefix, Decode decode);

  std::shared_ptr<EtcdClient> client_;
  StoreKeys keys_;
  std::unique_ptr<EtcdStoreWriter> writer_;
};

}  // namespace metalpxe::etcd
