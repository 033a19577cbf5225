#pragma once
// The status page's one password, kept as a PBKDF2-HMAC-SHA256 hash in
// <stateDir>/ui-password (0600): `metalpxed --set-ui-password` writes it, the
// page's login checks against it. The password itself is never stored or
// logged. Format, one line: pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>.
//
// Why a password and not the API's client certificates: the page is for a
// phone or a laptop's browser, where installing a client certificate is a
// chore most operators skip; a password in stateDir fits an appliance with
// one operator, and the page stays on loopback unless the operator moves it.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace metalpxe::ui {

inline constexpr const char* kUiPasswordFile = "ui-password";
// OWASP's 2023 figure for PBKDF2-HMAC-SHA256.
inline constexpr std::uint32_t kUiPasswordIterations = 600000;
inline constexpr std::size_t kMinUiPasswordLength = 8;

// A new hash line (random salt) for `password`.
Result<std::string> HashUiPassword(std::string_view password, std::uint32_t iterations = kUiPasswordIterations);
// Whether `password` matches a hash line (constant time in the comparison);
// false for a malformed line.
bool VerifyUiPassword(std::string_view password, std::string_view hash_line);

// Writes <state_dir>/ui-password atomically with mode 0600.
Status WriteUiPasswordFile(const std::string& state_dir, std::string_view password);
// The hash line from <state_dir>/ui-password; kNotFound when none is set.
Result<std::string> ReadUiPasswordFile(const std::string& state_dir);

}  // namespace metalpxe::ui
