#pragma once
// Durations as users write them in YAML: "1h", "30m", "90s", "1h30m", or a
// bare number of seconds. Go-style, like Talos's own config.
#include <chrono>
#include <optional>
#include <string_view>

namespace metalpxe {

std::optional<std::chrono::seconds> ParseDuration(std::string_view text);

}  // namespace metalpxe
