#include "http/http_date.h"

#include <array>
#include <cstdio>

namespace metalpxe::http {
namespace {

constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 7> kLongDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                   "Thursday", "Friday", "Saturday"};
constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Howard Hinnant's days_from_civil / civil_from_days: exact for the
// proleptic Gregorian calendar, no tables, no time zone.
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + std::int64_t(doe) - 719468;
}

struct Civil {
  std::int64_t y;
  unsigned m, d;
};
Civil CivilFromDays(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = unsigned(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {std::int64_t(yoe) + era * 400 + (m <= 2), m, d};
}

// A small cursor over the input; every read is bounds-checked.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool Literal(std::string_view lit) {
    if (s_.substr(0, lit.size()) != lit) return false;
    s_.remove_prefix(lit.size());
    return true;
  }
  // Exactly n digits (or, with allow_space_pad, a leading space for n=2).
  std::optional<unsigned> Digits(std::size_t n, bool allow_space_pad = false) {
    if (s_.size() < n) return std::nullopt;
    unsigned v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = s_[i];
      if (i == 0 && allow_space_pad && c == ' ') continue;
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + unsigned(c - '0');
    }
    s_.remove_prefix(n);
    return v;
  }
  std::optional<unsigned> Month() {
    for (unsigned i = 0; i < kMonths.size(); ++i)
      if (Literal(kMonths[i])) return i + 1;
    return std::nullopt;
  }
  bool Done() const { return s_.empty(); }

 private:
  std::string_view s_;
};

struct Parts {
  std::int64_t year;
  unsigned month, day, hour, minute, second;
};

std::optional<std::int64_t> ToUnix(const Parts& p) {
  static constexpr unsigned kMonthDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (p.month < 1 || p.month > 12 || p.day < 1 || p.day > kMonthDays[p.month - 1]) return std::nullopt;
  if (p.hour > 23 || p.minute > 59 || p.second > 60) return std::nullopt;  // 60: leap second
  const auto days = DaysFromCivil(p.year, p.month, p.day);
  if (CivilFromDays(days).d != p.day) return std::nullopt;  // Feb 29 in a non-leap year
  return days * 86400 + std::int64_t(p.hour) * 3600 + p.minute * 60 + p.second;
}

bool Time(Cursor& c, Parts& p) {
  auto h = c.Digits(2);
  if (!h || !c.Literal(":")) return false;
  auto m = c.Digits(2);
  if (!m || !c.Literal(":")) return false;
  auto s = c.Digits(2);
  if (!s) return false;
  p.hour = *h, p.minute = *m, p.second = *s;
  return true;
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<std::int64_t> ParseImfFixdate(std::string_view text) {
  for (const char* day : kDays) {
    Cursor c(text);
    if (!c.Literal(day) || !c.Literal(", ")) continue;
    Parts p{};
    auto d = c.Digits(2);
    if (!d || !c.Literal(" ")) return std::nullopt;
    auto m = c.Month();
    if (!m || !c.Literal(" ")) return std::nullopt;
    auto y = c.Digits(4);
    if (!y || !c.Literal(" ") || !Time(c, p) || !c.Literal(" GMT") || !c.Done()) return std::nullopt;
    p.year = *y, p.month = *m, p.day = *d;
    return ToUnix(p);
  }
  return std::nullopt;
}

// "Sunday, 06-Nov-94 08:49:37 GMT"; two-digit years follow RFC 9110: a year
// more than 50 years in the future is read as the past century (we use the
// fixed 1970-2069 window, which is the same for the life of this code).
std::optional<std::int64_t> ParseRfc850(std::string_view text) {
  for (const char* day : kLongDays) {
    Cursor c(text);
    if (!c.Literal(day) || !c.Literal(", ")) continue;
    Parts p{};
    auto d = c.Digits(2);
    if (!d || !c.Literal("-")) return std::nullopt;
    auto m = c.Month();
    if (!m || !c.Literal("-")) return std::nullopt;
    auto y = c.Digits(2);
    if (!y || !c.Literal(" ") || !Time(c, p) || !c.Literal(" GMT") || !c.Done()) return std::nullopt;
    p.year = *y < 70 ? 2000 + *y : 1900 + *y;
    p.month = *m, p.day = *d;
    return ToUnix(p);
  }
  return std::nullopt;
}

// "Sun Nov  6 08:49:37 1994"
std::optional<std::int64_t> ParseAsctime(std::string_view text) {
  for (const char* day : kDays) {
    Cursor c(text);
    if (!c.Literal(day) || !c.Literal(" ")) continue;
    Parts p{};
    auto m = c.Month();
    if (!m || !c.Literal(" ")) return std::nullopt;
    auto d = c.Digits(2, /*allow_space_pad=*/true);
    if (!d || !c.Literal(" ") || !Time(c, p) || !c.Literal(" ")) return std::nullopt;
    auto y = c.Digits(4);
    if (!y || !c.Done()) return std::nullopt;
    p.year = *y, p.month = *m, p.day = *d;
    return ToUnix(p);
  }
  return std::nullopt;
}

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

std::string FormatHttpDate(std::int64_t unix_seconds) {
  const std::int64_t days = FloorDiv(unix_seconds, 86400);
  const std::int64_t secs = unix_seconds - days * 86400;
  const Civil c = CivilFromDays(days);
  const int weekday = int(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04lld %02d:%02d:%02d GMT", kDays[std::size_t(weekday)], c.d,
                kMonths[c.m - 1], static_cast<long long>(c.y), int(secs / 3600), int(secs % 3600 / 60),
                int(secs % 60));
  return buf;
}

std::optional<std::int64_t> ParseHttpDate(std::string_view text) {
  if (auto t = ParseImfFixdate(text)) return t;
  if (auto t = ParseRfc850(text)) return t;
  return ParseAsctime(text);
}

}  // namespace metalpxe::http
