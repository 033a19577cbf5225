#include "core/store/sqlite_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <future>
#include <system_error>
#include <utility>

#include "core/store/lost_database.h"
#include "core/store/store_reader.h"
#include "core/store/store_schema.h"

namespace metalpxe {
namespace {

// Per-connection settings. synchronous=FULL makes every commit fsync the
// WAL, which is the durability promise of the `done` callbacks; group commit
// is what keeps that affordable.
Status Configure(SqliteDb& db, const SqliteStoreOptions& options) {
  if (sqlite3_db_readonly(db.raw(), "main") == 1) {
    return Status(ErrorCode::kPermissionDenied, "database " + db.path() + " is read-only (check file permissions)");
  }
  sqlite3_busy_timeout(db.raw(), static_cast<int>(options.busy_timeout.count()));
  auto mode = db.QueryText("PRAGMA journal_mode = WAL");
  if (!mode.ok()) return Status(mode.status().code(), "cannot switch " + db.path() + " to WAL mode: " +
                                                          mode.status().message());
  // SQLite answers with the mode it kept: anything else means it could not
  // create the -wal/-shm files next to the database.
  if (*mode != "wal") {
    return Status(ErrorCode::kPermissionDenied,
                  "cannot switch " + db.path() + " to WAL mode (journal mode stays '" + *mode +
                      "'); is its directory writable?");
  }
  return db.Exec("PRAGMA synchronous = FULL");
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& state_dir, SqliteStoreOptions options) {
  if (state_dir.empty()) return Status(ErrorCode::kInvalidArgument, "store: empty state directory");
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) {
    return Status(ec == std::errc::permission_denied || ec == std::errc::read_only_file_system
                      ? ErrorCode::kPermissionDenied
                      : ErrorCode::kUnavailable,
                  "cannot create state directory " + state_dir + ": " + ec.message());
  }
  // SQLite needs to create the file and its -wal/-shm companions here. Ask
  // first: when it fails itself it retries read-only and reports that
  // retry's error ("No such file or directory"), which hides the real cause.
  if (faccessat(AT_FDCWD, state_dir.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
    const int err = errno;
    return Status(err == EACCES || err == EPERM || err == EROFS ? ErrorCode::kPermissionDenied
                                                                : ErrorCode::kUnavailable,
                  "state directory " + state_dir + " is not writable: " + std::strerror(err));
  }
  const std::string path = (std::filesystem::path(state_dir) / kFileName).string();
  if (auto st = CheckDatabaseNotLost(state_dir, kFileName); !st.ok()) return st;

  auto wdb = SqliteDb::Open(path, /*create=*/true);
  if (!wdb.ok()) return wdb.status();
  if (auto st = Configure(*wdb, options); !st.ok()) return st;
  // Migrations run before any reader or writer statement is prepared: those
  // name tables and columns that only exist at the latest version.
  if (auto st = MigrateStoreSchema(*wdb); !st.ok()) return st;
  // A quick check, not a full integrity_check: it catches a file that is not
  // a database or whose header is damaged, at open rather than at first write.
  auto check = wdb->QueryText("PRAGMA quick_check(1)");
  if (!check.ok()) return check.status();
  if (*check != "ok") return Status(ErrorCode::kDataLoss, "database " + path + " is damaged: " + *check);

  auto rdb = SqliteDb::Open(path, /*create=*/false);
  if (!rdb.ok()) return rdb.status();
  sqlite3_busy_timeout(rdb->raw(), static_cast<int>(options.busy_timeout.count()));
  if (auto st = rdb->Exec("PRAGMA query_only = 1"); !st.ok()) return st;
  auto reader = StoreReader::Open(std::move(rdb).value());
  if (!reader.ok()) return reader.status();

  auto writer = StoreWriter::Start(std::move(wdb).value(), options.max_events);
  if (!writer.ok()) return writer.status();
  return std::unique_ptr<SqliteStore>(
      new SqliteStore(path, std::move(writer).value(), std::move(reader).value()));
}

SqliteStore::SqliteStore(std::string path, std::unique_ptr<StoreWriter> writer, std::unique_ptr<StoreReader> reader)
    : path_(std::move(path)), reader_(std::move(reader)), writer_(std::move(writer)) {}

SqliteStore::~SqliteStore() {
  writer_.reset();  // drains the queue first; the last connection to close checkpoints the WAL
  reader_.reset();
}

void SqliteStore::PutLease(const LeaseRecord& lease, DurableCallback done) {
  writer_->Submit({lease, std::move(done)});
}
void SqliteStore::DeleteLease(Ipv4Address ip, DurableCallback done) {
  writer_->Submit({DeleteLeaseOp{ip}, std::move(done)});
}
void SqliteStore::PutMachine(const MachineRecord& machine, DurableCallback done) {
  writer_->Submit({machine, std::move(done)});
}
void SqliteStore::PutToken(const TokenRecord& token, DurableCallback done) {
  writer_->Submit({token, std::move(done)});
}
void SqliteStore::DeleteExpiredTokens(std::int64_t now_unix, DurableCallback done) {
  writer_->Submit({DeleteExpiredTokensOp{now_unix}, std::move(done)});
}
void SqliteStore::PutCluster(const ClusterRecord& cluster, DurableCallback done) {
  writer_->Submit({cluster, std::move(done)});
}
void SqliteStore::PutUpgrade(const UpgradeRecord& upgrade, DurableCallback done) {
  writer_->Submit({upgrade, std::move(done)});
}
void SqliteStore::PutApplyTarget(const ApplyTargetRecord& target, DurableCallback done) {
  writer_->Submit({target, std::move(done)});
}
void SqliteStore::DeleteApplyTarget(const MacAddress& mac, DurableCallback done) {
  writer_->Submit({DeleteApplyTargetOp{mac}, std::move(done)});
}
void SqliteStore::AppendEvent(const EventRecord& event, DurableCallback done) {
  writer_->Submit({event, std::move(done)});
}

void SqliteStore::PutTimelineEntry(const TimelineEntry& entry, DurableCallback done) {
  writer_->Submit({entry, std::move(done)});
}
void SqliteStore::TrimTimeline(const MacAddress& mac, std::int64_t keep_from_seq, DurableCallback done) {
  writer_->Submit({TrimTimelineOp{mac, keep_from_seq}, std::move(done)});
}
Result<std::vector<TimelineEntry>> SqliteStore::LoadTimeline(const MacAddress& mac, std::size_t limit) {
  return reader_->LoadTimeline(mac, limit);
}

Result<std::vector<LeaseRecord>> SqliteStore::LoadLeases() { return reader_->LoadLeases(); }
Result<std::vector<MachineRecord>> SqliteStore::LoadMachines() { return reader_->LoadMachines(); }
Result<std::vector<TokenRecord>> SqliteStore::LoadTokens() { return reader_->LoadTokens(); }
Result<std::vector<ClusterRecord>> SqliteStore::LoadClusters() { return reader_->LoadClusters(); }
Result<std::vector<UpgradeRecord>> SqliteStore::LoadUpgrades() { return reader_->LoadUpgrades(); }
Result<std::vector<ApplyTargetRecord>> SqliteStore::LoadApplyTargets() { return reader_->LoadApplyTargets(); }
Result<std::vector<EventRecord>> SqliteStore::LoadEvents(std::int64_t after_id, std::size_t limit) {
  return reader_->LoadEvents(after_id, limit);
}

Status SqliteStore::Flush() {
  if (writer_->OnWriterThread()) {
    return Status(ErrorCode::kFailedPrecondition, "store: Flush() called from a write callback would deadlock");
  }
  auto done = std::make_shared<std::promise<Status>>();
  auto result = done->get_future();
  writer_->Submit({BarrierOp{}, [done](const Status& st) { done->set_value(st); }});
  return result.get();
}

}  // namespace metalpxe
