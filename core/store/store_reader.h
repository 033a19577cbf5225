#pragma once
// Loads for the store, on the caller's thread through a connection of their
// own: in WAL mode they read the last committed state without waiting for
// the writer. One connection, serialised by a mutex (loads are rare: start-up,
// API listings), with its statements prepared once.
#include <cstdint>
#include <mutex>
#include <vector>

#include "core/result.h"
#include "core/store.h"
#include "core/store/sqlite_db.h"

namespace metalpxe {

class StoreReader {
 public:
  static Result<std::unique_ptr<StoreReader>> Open(SqliteDb db);

  Result<std::vector<LeaseRecord>> LoadLeases();
  Result<std::vector<MachineRecord>> LoadMachines();
  Result<std::vector<TokenRecord>> LoadTokens();
  Result<std::vector<ClusterRecord>> LoadClusters();
  Result<std::vector<UpgradeRecord>> LoadUpgrades();
  Result<std::vector<ApplyTargetRecord>> LoadApplyTargets();
  Result<std::vector<EventRecord>> LoadEvents(std::int64_t after_id, std::size_t limit);
  Result<std::vector<TimelineEntry>> LoadTimeline(const MacAddress& mac, std::size_t limit);

 private:
  struct Statements {
    SqliteStatement leases, machines, tokens, clusters, upgrades, apply_targets, events, timeline;
  };
  StoreReader(SqliteDb db, Statements stmts) : db_(std::move(db)), stmts_(std::move(stmts)) {}

  std::mutex mu_;
  SqliteDb db_;
  Statements stmts_;
};

}  // namespace metalpxe
