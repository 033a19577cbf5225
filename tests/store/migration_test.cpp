// Schema migrations: an old database is upgraded in place with its data; a
// newer one is refused; a failing migration leaves the last good version.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "core/store/sqlite_db.h"
#include "core/store/sqlite_store.h"
#include "core/store/store_schema.h"
#include "tests/store/store_test_util.h"

namespace metalpxe {
namespace {

using testing::TempDir;

// The schema as version 1 shipped it, written out by hand: a real old
// database is what the code must cope with, not whatever the first entry
// of today's migration list says.
constexpr const char* kVersion1Schema = R"sql(
CREATE TABLE leases (ip TEXT PRIMARY KEY NOT NULL, mac TEXT NOT NULL, client_id TEXT NOT NULL DEFAULT '',
  expires INTEGER NOT NULL, hostname TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL);
CREATE TABLE machines (mac TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL DEFAULT '', state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '', uuid TEXT NOT NULL DEFAULT '', arch TEXT NOT NULL DEFAULT '',
  vendor_class TEXT NOT NULL DEFAULT '', serial TEXT NOT NULL DEFAULT '', last_ip TEXT NOT NULL DEFAULT '0.0.0.0',
  first_seen INTEGER NOT NULL DEFAULT 0, last_seen INTEGER NOT NULL DEFAULT 0,
  state_changed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE tokens (token_hash TEXT PRIMARY KEY NOT NULL, mac TEXT NOT NULL, bound_ip TEXT,
  issued INTEGER NOT NULL, expires INTEGER NOT NULL, max_fetches INTEGER NOT NULL, fetches INTEGER NOT NULL);
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL, machine TEXT NOT NULL,
  kind TEXT NOT NULL, message TEXT NOT NULL);
INSERT INTO leases VALUES ('10.66.0.100', '52:54:00:12:34:56', '', 1900000000, 'cp-1', 'active');
INSERT INTO machines (mac, name, state) VALUES ('52:54:00:12:34:56', 'cp-1', 'installed');
INSERT INTO events (time_ms, machine, kind, message) VALUES (5, 'cp-1', 'state', 'installed');
PRAGMA user_version = 1;
)sql";

SqliteDb CreateRaw(const std::string& dir, const std::string& sql) {
  std::filesystem::create_directories(dir);
  auto db = SqliteDb::Open(dir + "/" + SqliteStore::kFileName, true);
  if (!db.ok()) throw std::runtime_error(db.status().ToString());
  if (auto st = db->Exec(sql); !st.ok()) throw std::runtime_error(st.ToString());
  return std::move(db).value();
}

std::int64_t UserVersion(const std::string& dir) {
  auto db = SqliteDb::Open(dir + "/" + SqliteStore::kFileName, false);
  return *db->QueryInt("PRAGMA user_version");
}

TEST(store_migration, MigrationsAreOrderedAndStartAtOne) {
  auto ms = StoreMigrations();
  ASSERT_FALSE(ms.empty());
  EXPECT_EQ(ms[0].version, 1);
  for (std::size_t i = 1; i < ms.size(); ++i) EXPECT_EQ(ms[i].version, ms[i - 1].version + 1);
  EXPECT_EQ(LatestStoreSchemaVersion(), ms.back().version);
}

TEST(store_migration, Version1DatabaseIsUpgradedWithItsData) {
  TempDir dir;
  CreateRaw(dir.path(), kVersion1Schema);
  ASSERT_EQ(UserVersion(dir.path()), 1);

  auto store = SqliteStore::Open(dir.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto leases = (*store)->LoadLeases();
  ASSERT_TRUE(leases.ok());
  ASSERT_EQ(leases->size(), 1u);
  EXPECT_EQ((*leases)[0].hostname, "cp-1");
  auto machines = (*store)->LoadMachines();
  ASSERT_EQ(machines->size(), 1u);
  EXPECT_EQ((*machines)[0].state, MachineState::kInstalled);
  EXPECT_EQ((*store)->LoadEvents(0, 10)->size(), 1u);
  store->reset();

  EXPECT_EQ(UserVersion(dir.path()), LatestStoreSchemaVersion());
  // Version 2's indexes exist.
  auto raw = SqliteDb::Open(dir.path() + "/" + SqliteStore::kFileName, false);
  EXPECT_EQ(*raw->QueryInt("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                           "('leases_by_mac', 'tokens_by_expires')"),
            2);
}

TEST(store_migration, FreshDatabaseGetsEveryMigration) {
  TempDir dir;
  auto store = SqliteStore::Open(dir.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  store->reset();
  EXPECT_EQ(UserVersion(dir.path()), LatestStoreSchemaVersion());
  // Opening again changes nothing.
  auto again = SqliteStore::Open(dir.path());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
}

TEST(store_migration, NewerDatabaseIsRefusedUntouched) {
  TempDir dir;
  const int future = LatestStoreSchemaVersion() + 7;
  CreateRaw(dir.path(), "CREATE TABLE from_the_future (x); PRAGMA user_version = " + std::to_string(future) + ";");
  auto store = SqliteStore::Open(dir.path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), ErrorCode::kFailedPrecondition);
  const std::string msg = store.status().message();
  EXPECT_NE(msg.find("schema version " + std::to_string(future)), std::string::npos) << msg;
  EXPECT_NE(msg.find("newer"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dir.path()), std::string::npos) << msg;
  EXPECT_EQ(UserVersion(dir.path()), future);
}

TEST(store_migration, FailingMigrationRollsBackToLastGoodVersion) {
  TempDir dir;
  // A version-1 database where someone already made an object named like
  // one migration 2 creates: migration 2 fails, and must leave nothing half-done.
  CreateRaw(dir.path(), std::string(kVersion1Schema) + "CREATE TABLE tokens_by_expires (x);");
  auto store = SqliteStore::Open(dir.path());
  ASSERT_FALSE(store.ok());
  const std::string msg = store.status().message();
  EXPECT_NE(msg.find("migration to version 2"), std::string::npos) << msg;
  EXPECT_EQ(UserVersion(dir.path()), 1);
  auto raw = SqliteDb::Open(dir.path() + "/" + SqliteStore::kFileName, false);
  // leases_by_mac (the statement before the failing one) was rolled back too.
  EXPECT_EQ(*raw->QueryInt("SELECT count(*) FROM sqlite_master WHERE name = 'leases_by_mac'"), 0);
}

TEST(store_migration, FileThatIsNotADatabaseIsRefused) {
  TempDir dir;
  std::ofstream(dir.Sub(SqliteStore::kFileName)) << std::string(4096, 'x');
  auto store = SqliteStore::Open(dir.path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), ErrorCode::kDataLoss) << store.status().ToString();
  EXPECT_NE(store.status().message().find(SqliteStore::kFileName), std::string::npos)
      << store.status().ToString();
}

}  // namespace
}  // namespace metalpxe
