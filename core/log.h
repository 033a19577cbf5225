#pragma once
// Logging: spdlog's default logger, with a level from the config. Every module
// logs through these macros so the format (time, level, module) is one place.
// Never pass a Secret's Reveal() or a rendered machine config to a log call.
#include <string_view>

#include <spdlog/spdlog.h>

#include "core/result.h"

namespace metalpxe {

// level: trace | debug | info | warn | error | critical | off
Status InitLogging(std::string_view level);

}  // namespace metalpxe
