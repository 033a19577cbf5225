#include "core/store/store_schema.h"

#include <array>
#include <string>

namespace metalpxe {
namespace {

// Addresses and MACs are stored in their canonical text forms
// (net_types.h) so an operator can read the file with the sqlite3 shell.
constexpr std::array<SchemaMigration, 6> kMigrations{{
    {1, "initial schema: leases, machines, tokens, events",
     R"sql(
CREATE TABLE leases (
  ip        TEXT PRIMARY KEY NOT NULL,
  mac       TEXT NOT NULL,
  client_id TEXT NOT NULL DEFAULT '',
  expires   INTEGER NOT NULL,
  hostname  TEXT NOT NULL DEFAULT '',
  kind      TEXT NOT NULL
);
CREATE TABLE machines (
  mac           TEXT PRIMARY KEY NOT NULL,
  name          TEXT NOT NULL DEFAULT '',
  state         TEXT NOT NULL,
  reason        TEXT NOT NULL DEFAULT '',
  uuid          TEXT NOT NULL DEFAULT '',
  arch          TEXT NOT NULL DEFAULT '',
  vendor_class  TEXT NOT NULL DEFAULT '',
  serial        TEXT NOT NULL DEFAULT '',
  last_ip       TEXT NOT NULL DEFAULT '0.0.0.0',
  first_seen    INTEGER NOT NULL DEFAULT 0,
  last_seen     INTEGER NOT NULL DEFAULT 0,
  state_changed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE tokens (
  token_hash  TEXT PRIMARY KEY NOT NULL,
  mac         TEXT NOT NULL,
  bound_ip    TEXT,
  issued      INTEGER NOT NULL,
  expires     INTEGER NOT NULL,
  max_fetches INTEGER NOT NULL,
  fetches     INTEGER NOT NULL
);
CREATE TABLE events (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms INTEGER NOT NULL,
  machine TEXT NOT NULL,
  kind    TEXT NOT NULL,
  message TEXT NOT NULL
);
)sql"},
    {2, "indexes for DHCP lookups by MAC and the token expiry sweep",
     R"sql(
CREATE INDEX leases_by_mac ON leases(mac);
CREATE INDEX tokens_by_expires ON tokens(expires);
)sql"},
    {3, "named clusters' bootstrap records",
     R"sql(
CREATE TABLE clusters (
  name      TEXT PRIMARY KEY NOT NULL,
  bootstrap TEXT NOT NULL,
  node      TEXT NOT NULL DEFAULT '',
  reason    TEXT NOT NULL DEFAULT '',
  attempts  INTEGER NOT NULL DEFAULT 0,
  changed   INTEGER NOT NULL DEFAULT 0
);
)sql"},
    {4, "per-machine boot timeline",
     R"sql(
CREATE TABLE timeline (
  mac     TEXT NOT NULL,
  seq     INTEGER NOT NULL,
  time_ms INTEGER NOT NULL,
  source  TEXT NOT NULL,
  summary TEXT NOT NULL,
  details TEXT NOT NULL DEFAULT '',
  repeats INTEGER NOT NULL DEFAULT 0,
  last_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (mac, seq)
) WITHOUT ROWID;
)sql"},
    {5, "named clusters' upgrades (the version their profiles are pinned to)",
     R"sql(
CREATE TABLE upgrades (
  cluster   TEXT PRIMARY KEY NOT NULL,
  version   TEXT NOT NULL,
  schematic TEXT NOT NULL DEFAULT '',
  state     TEXT NOT NULL,
  node      TEXT NOT NULL DEFAULT '',
  node_since_ms INTEGER NOT NULL DEFAULT 0,
  done      TEXT NOT NULL DEFAULT '',
  reason    TEXT NOT NULL DEFAULT '',
  changed   INTEGER NOT NULL DEFAULT 0,
  pinned_version   TEXT NOT NULL DEFAULT '',
  pinned_schematic TEXT NOT NULL DEFAULT ''
);
)sql"},
    {6, "machines waiting for their config by apply (Talos in maintenance mode at an address)",
     R"sql(
CREATE TABLE apply_targets (
  mac     TEXT PRIMARY KEY NOT NULL,
  machine TEXT NOT NULL,
  address TEXT NOT NULL,
  since   INTEGER NOT NULL DEFAULT 0
);
)sql"},
}};

Status ApplyOne(SqliteDb& db, const SchemaMigration& m) {
  // IMMEDIATE takes the write lock first, so two processes opening the same
  // file cannot both apply the same migration.
  if (auto st = db.Exec("BEGIN IMMEDIATE"); !st.ok()) return st;
  auto fail = [&](const Status& st) {
    (void)db.Exec("ROLLBACK");
    return Status(st.code(), "schema migration to version " + std::to_string(m.version) + " (" +
                                 std::string(m.description) + ") failed: " + st.message());
  };
  auto current = db.QueryInt("PRAGMA user_version");
  if (!current.ok()) return fail(current.status());
  if (*current >= m.version) {  // someone else got there first
    (void)db.Exec("ROLLBACK");
    return Status::Ok();
  }
  if (auto st = db.Exec(std::string(m.sql)); !st.ok()) return fail(st);
  if (auto st = db.Exec("PRAGMA user_version = " + std::to_string(m.version)); !st.ok()) return fail(st);
  if (auto st = db.Exec("COMMIT"); !st.ok()) return fail(st);
  return Status::Ok();
}

}  // namespace

std::span<const SchemaMigration> StoreMigrations() { return kMigrations; }

int LatestStoreSchemaVersion() { return kMigrations.back().version; }

Status MigrateStoreSchema(SqliteDb& db) {
  auto version = db.QueryInt("PRAGMA user_version");
  if (!version.ok()) return version.status();
  if (*version > LatestStoreSchemaVersion()) {
    return Status(ErrorCode::kFailedPrecondition,
                  "database " + db.path() + " has schema version " + std::to_string(*version) +
                      ", newer than the " + std::to_string(LatestStoreSchemaVersion()) +
                      " this metalpxe knows; it was written by a newer metalpxe (downgrade is not supported)");
  }
  for (const auto& m : kMigrations) {
    if (m.version <= *version) continue;
    if (auto st = ApplyOne(db, m); !st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace metalpxe
