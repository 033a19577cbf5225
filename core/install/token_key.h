#pragma once
// The secret that signs config tokens: 256 random bits in
// <stateDir>/token.key (mode 0600), made on first start and kept across
// restarts, so a token issued before a restart still opens its config after
// it. Losing the file only invalidates outstanding tokens (their machines
// retry their boot); it is also a sign of history, which the store's
// lost-database check looks for.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/install/config_token_codec.h"
#include "core/result.h"
#include "core/shared_values.h"

namespace metalpxe {

using TokenKey = std::array<std::uint8_t, kTokenKeyBytes>;

inline constexpr const char* kTokenKeyFileName = "token.key";

// Reads the key, or creates it (atomically: a half-written key is never
// read) when the file does not exist. Any other problem is an error.
Result<TokenKey> LoadOrCreateTokenKey(const std::string& state_dir);

// Several appliances on one shared store (etcd, issue #20): one key for all
// of them, so a token in a script served by one opens the config on any
// other. It is the shared value kSharedTokenKeyName (64 lower-case hex
// digits), made once with a create-if-absent transaction. The appliance
// that makes it offers its own <stateDir>/token.key when it has one (tokens
// it issued before keep working), else a new random key; the file is
// neither created nor changed here.
inline constexpr const char* kSharedTokenKeyName = "token-key";
Result<TokenKey> LoadOrCreateSharedTokenKey(SharedValues& shared, const std::string& state_dir);

// The shared value's text form, and back (nullopt unless exactly 64 hex digits).
Secret EncodeTokenKey(const TokenKey& key);
std::optional<TokenKey> DecodeTokenKey(std::string_view text);

}  // namespace metalpxe
