#pragma once
// The store's schema as an ordered list of forward migrations. The version a
// database is at lives in `PRAGMA user_version`; opening applies every newer
// migration, each in its own transaction, and refuses a database written by a
// newer metalpxe (its schema may mean things this build does not know).
// Never edit a released migration: add a new one at the end.
#include <span>
#include <string_view>

#include "core/result.h"
#include "core/store/sqlite_db.h"

namespace metalpxe {

struct SchemaMigration {
  int version;                   // user_version after this migration
  std::string_view description;  // why it exists
  std::string_view sql;
};

std::span<const SchemaMigration> StoreMigrations();
int LatestStoreSchemaVersion();

// Brings `db` up to LatestStoreSchemaVersion(). Fails, leaving the database
// at the last migration that completed, when one fails; fails without
// touching anything when the database is newer than this build.
Status MigrateStoreSchema(SqliteDb& db);

}  // namespace metalpxe
