#pragma once
// The two pieces of client text the status page reads itself (Boost.Beast
// parses the HTTP framing): an application/x-www-form-urlencoded body (the
// login form) and a Cookie header (the session). Pure functions, bounded,
// fuzzed (tests/fuzz/fuzz_ui_form.cpp): any bytes give a value or nothing.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace metalpxe::ui {

inline constexpr std::size_t kMaxFormBytes = 4096;

// The value of `name` in a urlencoded body ('+' is a space, %XX a byte),
// the first if repeated; nullopt when absent, when the body is larger than
// kMaxFormBytes, or when an escape in it is malformed.
std::optional<std::string> FormField(std::string_view body, std::string_view name);

// The value of cookie `name` in a Cookie header ("a=1; b=2"), the first if
// repeated, as sent (cookie values are not decoded); nullopt when absent.
std::optional<std::string> CookieValue(std::string_view header, std::string_view name);

}  // namespace metalpxe::ui
