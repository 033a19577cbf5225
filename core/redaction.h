#pragma once
// Config tokens must not outlive the one fetch they are for: any text that
// may hold a machine's kernel command line (its kernel log's "Command line:"
// record, a script echoed in a log) passes through here before it is stored
// or logged. Pure.
#include <string>
#include <string_view>

namespace metalpxe {

// Every "/config/<token>" (token: base64url characters) becomes
// "/config/<redacted>"; everything else is left byte for byte.
std::string RedactConfigTokens(std::string_view text);

}  // namespace metalpxe
