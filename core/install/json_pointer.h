#pragma once
// JSON Pointer (RFC 6901) over YamlValue trees, for JSON6902 patches: the
// pointer text is split into reference tokens (`~1` is `/`, `~0` is `~`), and
// a token names a map key or, on a list, an array index ("0", or digits
// without a leading zero; "-" is the position past the last item, which only
// `add` may use). Pure functions; messages quote the pointer (a path, never a
// value).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/install/yaml_tree.h"
#include "core/result.h"

namespace metalpxe {

using JsonPointer = std::vector<std::string>;  // reference tokens, unescaped

// "" is the whole document; anything else must start with '/'. A '~' must be
// followed by '0' or '1'.
Result<JsonPointer> ParseJsonPointer(std::string_view text);

// The pointer text again (tokens escaped), for messages.
std::string FormatJsonPointer(const JsonPointer& pointer);

// The array index a token names in a list of `size` items, or nullopt when
// the token is not an index (leading zero, sign, non-digit, overflow) or
// names no item. `allow_end`: "-" and `size` itself are accepted (add).
std::optional<std::size_t> ArrayIndex(std::string_view token, std::size_t size, bool allow_end);

// The value the pointer names, or null when it names nothing.
const YamlValue* ResolveJsonPointer(const YamlValue& root, const JsonPointer& pointer);
YamlValue* ResolveJsonPointer(YamlValue& root, const JsonPointer& pointer);

}  // namespace metalpxe
