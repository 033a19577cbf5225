#pragma once
// One kernel log line as Talos streams it with `talos.logging.kernel=tcp://...`:
// a JSON object per line. Field names from siderolabs/talos
// internal/app/machined/pkg/controllers/runtime/kmsg_log.go (facility, seq,
// clock, priority) and internal/app/machined/pkg/runtime/logging/sender_jsonlines.go
// (msg, talos-time as RFC3339Nano, talos-level as zap level name); value
// types from siderolabs/go-kmsg message.go (seq and clock are int64, clock in
// microseconds since boot; facility "kern"..., priority "emerg".."debug").
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace metalpxe {

struct KmsgLine {
  std::string msg;
  std::string facility;     // "kern", "user", ...
  std::string priority;     // "emerg" .. "debug"
  std::string talos_level;  // "debug", "info", "warn", "error"
  std::string talos_time;   // RFC3339Nano, as sent
  std::optional<std::int64_t> seq;
  std::optional<std::int64_t> clock_us;
  bool operator==(const KmsgLine&) const = default;
};

// `line` without its trailing newline (a trailing '\r' is tolerated).
// "msg" must be a string; the other known fields, when present, must have
// their type; unknown fields (extra tags) are ignored.
Result<KmsgLine> ParseKmsgLine(std::string_view line);

}  // namespace metalpxe
