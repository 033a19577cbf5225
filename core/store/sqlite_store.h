#pragma once
// SqliteStore: the embedded Store (core/store.h), one SQLite file
// `<state_dir>/metalpxe.db` in WAL mode with synchronous=FULL, so a write
// whose callback said ok survives a crash or power cut.
//
// All writes go through one writer thread that commits whatever is queued in
// one transaction (group commit, store_writer.h); loads read on the caller's
// thread through a second connection. Opening creates the directory and the
// file, applies schema migrations (store_schema.h) and refuses a database
// from a newer metalpxe.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "core/result.h"
#include "core/store.h"
#include "core/store/store_writer.h"

namespace metalpxe {

class StoreReader;

struct SqliteStoreOptions {
  // The events table keeps the newest this many rows; older ones are
  // pruned as new ones arrive. 0 = unbounded.
  std::size_t max_events = 100000;
  // How long a connection waits for a lock held by another process (e.g.
  // the sqlite3 shell, or a backup) before a write fails.
  std::chrono::milliseconds busy_timeout{5000};
};

class SqliteStore final : public Store {
 public:
  static constexpr const char* kFileName = "metalpxe.db";

  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& state_dir, SqliteStoreOptions options = {});
  // Writes every queued change (running their callbacks), then closes.
  ~SqliteStore() override;

  void PutLease(const LeaseRecord& lease, DurableCallback done) override;
  void DeleteLease(Ipv4Address ip, DurableCallback done) override;
  Result<std::vector<LeaseRecord>> LoadLeases() override;

  void PutMachine(const MachineRecord& machine, DurableCallback done) override;
  Result<std::vector<MachineRecord>> LoadMachines() override;

  void PutToken(const TokenRecord& token, DurableCallback done) override;
  // Deletes tokens with expires_unix <= now_unix.
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

  // Must not be called from a write callback (it would wait for itself):
  // returns kFailedPrecondition there.
  Status Flush() override;

  // Commits, writes and batch sizes so far: for /metrics and for tests that
  // check group commit.
  StoreWriterStats Stats() const { return writer_->Stats(); }
  const std::string& path() const { return path_; }

 private:
  SqliteStore(std::string path, std::unique_ptr<StoreWriter> writer, std::unique_ptr<StoreReader> reader);

  std::string path_;
  std::unique_ptr<StoreReader> reader_;
  std::unique_ptr<StoreWriter> writer_;
};

}  // namespace metalpxe
