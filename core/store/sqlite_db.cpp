#include "core/store/sqlite_db.h"

#include <cerrno>
#include <cstring>
#include <utility>

namespace metalpxe {
namespace {

ErrorCode CodeFor(int rc, int sys_errno) {
  switch (rc & 0xff) {  // primary result code; extended codes carry detail only
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return ErrorCode::kUnavailable;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH: return ErrorCode::kPermissionDenied;
    case SQLITE_CANTOPEN:
      return (sys_errno == EACCES || sys_errno == EPERM || sys_errno == EROFS) ? ErrorCode::kPermissionDenied
                                                                               : ErrorCode::kUnavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return ErrorCode::kDataLoss;
    case SQLITE_FULL: return ErrorCode::kResourceExhausted;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH: return ErrorCode::kFailedPrecondition;
    case SQLITE_IOERR: return ErrorCode::kUnavailable;
    default: return ErrorCode::kInternal;
  }
}

}  // namespace

// ---- SqliteStatement ----

SqliteStatement::SqliteStatement(SqliteStatement&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)), stmt_(std::exchange(o.stmt_, nullptr)) {}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& o) noexcept {
  if (this != &o) {
    if (stmt_) sqlite3_finalize(stmt_);
    db_ = std::exchange(o.db_, nullptr);
    stmt_ = std::exchange(o.stmt_, nullptr);
  }
  return *this;
}

SqliteStatement::~SqliteStatement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

void SqliteStatement::BindText(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}
void SqliteStatement::BindInt(int index, std::int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
void SqliteStatement::BindNull(int index) { sqlite3_bind_null(stmt_, index); }

Result<bool> SqliteStatement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // sqlite3_errmsg reflects the failed step until the next call on this connection.
  Status st(CodeFor(rc, sqlite3_system_errno(db_)),
            std::string(sqlite3_errmsg(db_)) + " (in: " + sqlite3_sql(stmt_) + ")");
  Reset();
  return st;
}

Status SqliteStatement::Run() {
  while (true) {
    auto row = Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
  }
  Reset();
  return Status::Ok();
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t SqliteStatement::ColumnInt(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string SqliteStatement::ColumnText(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  const int len = sqlite3_column_bytes(stmt_, column);
  if (!text) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(len));
}

bool SqliteStatement::ColumnIsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

// ---- SqliteDb ----

Result<SqliteDb> SqliteDb::Open(const std::string& path, bool create) {
  SqliteDb db;
  db.path_ = path;
  // NOMUTEX: each connection is used by one thread at a time (the writer
  // thread, or readers under the store's read mutex), so SQLite's own
  // per-connection mutex would only cost.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (create) flags |= SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path.c_str(), &db.db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const int sys = db.db_ ? sqlite3_system_errno(db.db_) : 0;
    std::string msg = "cannot open database " + path + ": " +
                      (db.db_ ? sqlite3_errmsg(db.db_) : sqlite3_errstr(rc));
    if (sys != 0) msg += std::string(" (") + std::strerror(sys) + ")";
    return Status(CodeFor(rc, sys), msg);
  }
  sqlite3_extended_result_codes(db.db_, 1);
  return db;
}

SqliteDb::SqliteDb(SqliteDb&& o) noexcept : db_(std::exchange(o.db_, nullptr)), path_(std::move(o.path_)) {}

SqliteDb& SqliteDb::operator=(SqliteDb&& o) noexcept {
  if (this != &o) {
    if (db_) sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
    path_ = std::move(o.path_);
  }
  return *this;
}

SqliteDb::~SqliteDb() {
  // close_v2 defers the close until every statement is finalised, so member
  // destruction order between statements and their connection cannot leak.
  if (db_) sqlite3_close_v2(db_);
}

Status SqliteDb::Error(std::string_view what, int rc) const {
  const int sys = db_ ? sqlite3_system_errno(db_) : 0;
  std::string msg = std::string(what) + " (" + path_ + "): " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  if (sys != 0 && (rc & 0xff) == SQLITE_IOERR) msg += std::string(" (") + std::strerror(sys) + ")";
  return Status(CodeFor(rc, sys), msg);
}

Status SqliteDb::Exec(const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return Status(CodeFor(rc, sqlite3_system_errno(db_)), msg + " (" + path_ + ", in: " + sql.substr(0, 120) + ")");
}

Result<SqliteStatement> SqliteDb::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                    &stmt, nullptr);
  if (rc != SQLITE_OK) return Error("cannot prepare '" + std::string(sql.substr(0, 80)) + "'", rc);
  return SqliteStatement(db_, stmt);
}

Result<std::string> SqliteDb::QueryText(const std::string& sql) {
  auto stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status(ErrorCode::kNotFound, "no row from " + sql);
  return stmt->ColumnText(0);
}

Result<std::int64_t> SqliteDb::QueryInt(const std::string& sql) {
  auto stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status(ErrorCode::kNotFound, "no row from " + sql);
  return stmt->ColumnInt(0);
}

}  // namespace metalpxe
