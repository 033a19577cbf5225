#include "core/log.h"

#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace metalpxe {

Status InitLogging(std::string_view level) {
  const auto lvl = spdlog::level::from_str(std::string(level));
  // from_str maps anything unknown to "off"; only accept that when asked for.
  if (lvl == spdlog::level::off && level != "off")
    return {ErrorCode::kInvalidArgument, "unknown log level '" + std::string(level) + "'"};
  auto logger = spdlog::get("metalpxe");
  if (!logger) logger = spdlog::stderr_color_mt("metalpxe");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%-5l%$ %v");
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

}  // namespace metalpxe
