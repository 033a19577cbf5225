#pragma once
// The secret that signs config tokens: 256 random bits in
// <stateDir>/token.key (mode 0600), made on first start and kept across
// restarts, so a token issued before a restart still opens its config after
// it. Losing the file only invalidates outstanding tokens (their machines
// retry their boot); it is also a sign of history, which the store's
// lost-database check looks for.
#include <array>
#include <cstdint>
#include <string>

#include "core/install/config_token_codec.h"
#include "core/result.h"

namespace metalpxe {

using TokenKey = std::array<std::uint8_t, kTokenKeyBytes>;

inline constexpr const char* kTokenKeyFileName = "token.key";

// Reads the key, or creates it (atomically: a half-written key is never
// read) when the file does not exist. Any other problem is an error.
Result<TokenKey> LoadOrCreateTokenKey(const std::string& state_dir);

}  // namespace metalpxe
