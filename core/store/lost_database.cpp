#include "core/store/lost_database.h"

#include <filesystem>
#include <system_error>
#include <vector>

#include <spdlog/spdlog.h>

namespace metalpxe {
namespace {

namespace fs = std::filesystem;

// Missing or 0 bytes. (A 0-byte database with a non-empty WAL is a young
// database whose first checkpoint has not happened yet: not lost.)
bool NoDataIn(const fs::path& p) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  return ec || size == 0;
}

}  // namespace

Status CheckDatabaseNotLost(const std::string& state_dir, const std::string& db_file_name) {
  const fs::path dir(state_dir);
  const fs::path db = dir / db_file_name;
  const bool db_empty = NoDataIn(db);
  if (!db_empty || !NoDataIn(dir / (db_file_name + "-wal"))) return Status::Ok();

  // What only an appliance that has run before leaves behind.
  std::vector<std::string> history;
  std::error_code ec;
  for (const char* name : {"pki", "token.key", "accepted-machines.yaml"})
    if (fs::exists(dir / name, ec)) history.push_back(name);
  if (history.empty()) return Status::Ok();  // a first start

  const fs::path marker = dir / kStartEmptyMarker;
  if (fs::exists(marker, ec)) {
    fs::remove(marker, ec);
    spdlog::warn("store: {} {}; starting with an empty store as {} asked (leases, machine states and events "
                 "start over)",
                 db.string(), fs::exists(db, ec) ? "is empty" : "is missing", marker.string());
    return Status::Ok();
  }
  std::string seen;
  for (const auto& h : history) seen += (seen.empty() ? "" : ", ") + h;
  return Status(ErrorCode::kDataLoss,
                "database " + db.string() + (fs::exists(db, ec) ? " is empty" : " is missing") +
                    ", but the state directory has been used before (" + seen +
                    "): its leases are gone, and starting afresh could hand out addresses machines still hold. "
                    "Restore the file from a backup, or create " + marker.string() +
                    " to start with an empty store (leases, machine states and events start over)");
}

}  // namespace metalpxe
