#pragma once
// A state directory that has a history (the appliance's PKI, the config
// token key, accepted machines) but whose database is missing, or empty with
// no WAL beside it, lost its leases: starting as on a first start would hand
// out addresses machines still hold. SqliteStore::Open refuses that, naming
// the file and what to do, unless the operator left the marker file that
// says "start with an empty store" (consumed by a successful check).
#include <string>

#include "core/result.h"

namespace metalpxe {

inline constexpr const char* kStartEmptyMarker = "metalpxe.db.start-empty";

// ok: the database is there, or the directory has no history (a first
// start), or the marker asked for an empty start (the marker is removed).
Status CheckDatabaseNotLost(const std::string& state_dir, const std::string& db_file_name);

}  // namespace metalpxe
