#pragma once
// HTTP dates (RFC 9110 §5.6.7), pure: formatting for Last-Modified and
// parsing for If-Modified-Since / If-Range. Independent of the process's
// locale and time zone (no strftime/strptime/mktime).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace metalpxe::http {

// Seconds since the Unix epoch -> "Sun, 06 Nov 1994 08:49:37 GMT".
std::string FormatHttpDate(std::int64_t unix_seconds);

// Accepts the three forms recipients must accept: IMF-fixdate, RFC 850
// ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994").
// Returns nullopt for anything else.
std::optional<std::int64_t> ParseHttpDate(std::string_view text);

}  // namespace metalpxe::http
