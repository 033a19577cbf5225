#pragma once
// Thin RAII over the SQLite C API: a connection (SqliteDb) and a prepared
// statement (SqliteStatement) that is reset after every use so it can be
// reused. Errors come back as Status with SQLite's own message, prefixed by
// what we were doing, so a failed open or write says which file and why.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <sqlite3.h>

#include "core/result.h"

namespace metalpxe {

class SqliteStatement {
 public:
  SqliteStatement() = default;
  SqliteStatement(SqliteStatement&&) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Binds by 1-based index, as SQLite numbers parameters.
  void BindText(int index, std::string_view text);
  void BindInt(int index, std::int64_t value);
  void BindNull(int index);

  // One step: true when a row is ready, false when done. Errors as Status.
  Result<bool> Step();
  // Steps to completion (for statements that return no rows) and resets.
  Status Run();
  // Clears bindings and rewinds so the statement can be used again.
  void Reset();

  std::int64_t ColumnInt(int column) const;
  std::string ColumnText(int column) const;
  bool ColumnIsNull(int column) const;

 private:
  friend class SqliteDb;
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class SqliteDb {
 public:
  // Opens (creating when `create`) the file read-write.
  static Result<SqliteDb> Open(const std::string& path, bool create);

  SqliteDb() = default;
  SqliteDb(SqliteDb&&) noexcept;
  SqliteDb& operator=(SqliteDb&&) noexcept;
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  ~SqliteDb();

  // Runs one or more SQL statements that return no rows we need.
  Status Exec(const std::string& sql);
  Result<SqliteStatement> Prepare(std::string_view sql);
  // First column of the first row of a query (e.g. a PRAGMA) as text.
  Result<std::string> QueryText(const std::string& sql);
  Result<std::int64_t> QueryInt(const std::string& sql);

  bool InTransaction() const { return db_ && !sqlite3_get_autocommit(db_); }
  sqlite3* raw() const { return db_; }
  const std::string& path() const { return path_; }

  // "<what>: <sqlite message>" with a code that fits the SQLite result code.
  Status Error(std::string_view what, int rc) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace metalpxe
