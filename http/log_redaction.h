#pragma once
// What of a request may reach the log. Machine-config URLs carry their access
// token in the path (/config/<token>), query strings may carry tokens too, so
// neither is ever logged as received. Pure.
#include <string>
#include <string_view>

namespace metalpxe::http {

// The path as it may be logged: "/config/..." becomes "/config/<redacted>",
// control and non-ASCII bytes become '?', and it is cut at 256 characters.
// Never pass a query string here; callers log the path only.
std::string PathForLog(std::string_view decoded_path);

// For free text from libmicrohttpd's own error log: every "/config/<x>"
// (up to the next space or quote) becomes "/config/<redacted>", and every
// '?' query up to the next space is dropped.
std::string RedactFreeText(std::string_view text);

}  // namespace metalpxe::http
