#pragma once
// /dev/kmsg records and the JSON line Talos sends for each one to
// talos.logging.kernel (one object per line: clock, facility, msg, priority,
// seq, talos-level, talos-time). Pure functions; no I/O.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace metalpxe::standin {

struct KmsgRecord {
  int facility = 0;          // syslog facility number (0 = kern)
  int level = 6;             // syslog severity (0 emerg .. 7 debug)
  uint64_t seq = 0;
  uint64_t clock_usec = 0;   // since boot, as /dev/kmsg gives it
  std::string message;       // first line only; continuation lines are key=value metadata
};

// One read() of /dev/kmsg: "PRI,SEQ,TS_USEC,FLAGS[,...];MESSAGE\n[ KEY=VALUE\n...]".
Result<KmsgRecord> ParseKmsgRecord(std::string_view record);

// Names as Talos (go-kmsg / zap) prints them.
std::string_view FacilityName(int facility);  // "kern", "user", ..., "local7"
std::string_view PriorityName(int level);     // "emerg" ... "debug"
std::string_view TalosLevelName(int level);   // "panic", "error", "warn", "info", "debug"

// The JSON line (with its trailing '\n'). boot_time_unix_usec places the
// record on the wall clock for talos-time (RFC 3339 with nanoseconds, UTC).
std::string TalosKmsgJsonLine(const KmsgRecord& record, uint64_t boot_time_unix_usec);

}  // namespace metalpxe::standin
