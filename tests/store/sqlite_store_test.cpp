// SqliteStore: the shared Store contract (store_contract.cpp) on a fresh
// state directory per test, plus what only SQLite has (WAL mode, schema
// version, creating the directory).
#include "core/store/sqlite_store.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "core/store/sqlite_db.h"
#include "core/store/store_schema.h"
#include "tests/store/store_contract.h"
#include "tests/store/store_test_util.h"

namespace metalpxe {
namespace {

using testing::StoreContract;
using testing::TempDir;

class SqliteBackend : public testing::StoreBackend {
 public:
  std::unique_ptr<Store> Open(std::size_t max_events) override {
    SqliteStoreOptions options;
    options.max_events = max_events;
    auto store = SqliteStore::Open(dir_.path(), options);
    if (!store.ok()) throw std::runtime_error(store.status().ToString());
    return std::move(store).value();
  }

 private:
  TempDir dir_;
};

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContract,
                         ::testing::Values(testing::StoreBackendFactory{
                             "sqlite", [] { return std::make_unique<SqliteBackend>(); }}),
                         testing::StoreBackendName);

TEST(store_sqlite_store, DatabaseFileIsInWalModeWithCurrentSchema) {
  TempDir dir;
  auto opened = SqliteStore::Open(dir.Sub("nested/state"));  // creates missing directories
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& store = *opened;
  EXPECT_EQ(store->path(), dir.Sub("nested/state/metalpxe.db"));
  EXPECT_TRUE(std::filesystem::exists(store->path()));
  auto raw = SqliteDb::Open(store->path(), false);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(*raw->QueryText("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(*raw->QueryInt("PRAGMA user_version"), LatestStoreSchemaVersion());
}

}  // namespace
}  // namespace metalpxe
