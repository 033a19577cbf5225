#include "tests/e2e/installer/kmsg_record.h"

#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>

namespace metalpxe::standin {

namespace {

template <typename T>
bool ParseNumber(std::string_view text, T& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// Text of a message, with the kernel's \xHH escapes (non-printables) undone.
std::string Unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size() && text[i + 1] == 'x') {
      unsigned value = 0;
      const auto [end, ec] = std::from_chars(text.data() + i + 2, text.data() + i + 4, value, 16);
      if (ec == std::errc() && end == text.data() + i + 4) {
        out.push_back(static_cast<char>(value));
        i += 3;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::string Rfc3339Nano(uint64_t unix_usec) {
  const time_t secs = static_cast<time_t>(unix_usec / 1'000'000);
  struct tm tm{};
  gmtime_r(&secs, &tm);
  char head[32];
  strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[64];
  snprintf(out, sizeof out, "%s.%06lluZ", head, static_cast<unsigned long long>(unix_usec % 1'000'000));
  return out;
}

}  // namespace

Result<KmsgRecord> ParseKmsgRecord(std::string_view record) {
  const size_t semi = record.find(';');
  if (semi == std::string_view::npos) return Status(ErrorCode::kInvalidArgument, "kmsg record without ';'");
  std::string_view prefix = record.substr(0, semi);
  std::string_view fields[4];
  for (int i = 0; i < 4; ++i) {
    const size_t comma = prefix.find(',');
    fields[i] = prefix.substr(0, comma);
    if (comma == std::string_view::npos) {
      if (i < 3) return Status(ErrorCode::kInvalidArgument, "kmsg record prefix has too few fields");
      break;
    }
    prefix.remove_prefix(comma + 1);
  }
  unsigned pri = 0;
  KmsgRecord out;
  if (!ParseNumber(fields[0], pri) || pri > 1023 || !ParseNumber(fields[1], out.seq) ||
      !ParseNumber(fields[2], out.clock_usec)) {
    return Status(ErrorCode::kInvalidArgument, "kmsg record prefix is not numeric");
  }
  out.facility = static_cast<int>(pri >> 3);
  out.level = static_cast<int>(pri & 7);
  std::string_view message = record.substr(semi + 1);
  message = message.substr(0, message.find('\n'));
  out.message = Unescape(message);
  return out;
}

std::string_view FacilityName(int facility) {
  static constexpr std::string_view kNames[] = {
      "kern",   "user",   "mail",   "daemon", "auth",   "syslog", "lpr",    "news",
      "uucp",   "cron",   "authpriv", "ftp",  "ntp",    "security", "console", "solaris-cron",
      "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"};
  if (facility < 0 || facility >= static_cast<int>(std::size(kNames))) return "unknown";
  return kNames[facility];
}

std::string_view PriorityName(int level) {
  static constexpr std::string_view kNames[] = {"emerg", "alert", "crit", "err",
                                                "warning", "notice", "info", "debug"};
  if (level < 0 || level > 7) return "unknown";
  return kNames[level];
}

std::string_view TalosLevelName(int level) {
  // Talos maps kmsg priorities onto zap levels (kmsgPriorityToLevel).
  switch (level) {
    case 0: case 1: case 2: return "panic";
    case 3: return "error";
    case 4: return "warn";
    case 7: return "debug";
    default: return "info";
  }
}

std::string TalosKmsgJsonLine(const KmsgRecord& record, uint64_t boot_time_unix_usec) {
  nlohmann::json j = {
      {"clock", record.clock_usec},
      {"facility", FacilityName(record.facility)},
      {"msg", record.message},
      {"priority", PriorityName(record.level)},
      {"seq", record.seq},
      {"talos-level", TalosLevelName(record.level)},
      {"talos-time", Rfc3339Nano(boot_time_unix_usec + record.clock_usec)},
  };
  // Invalid UTF-8 in a kernel line must not abort the stream.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace metalpxe::standin
