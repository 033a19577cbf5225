#pragma once
// Fetching the machine config from talos.config (libcurl), retried for a
// bounded time as Talos does while the network settles.
#include <chrono>
#include <string>

#include "core/result.h"

namespace metalpxe::standin {

struct FetchedConfig {
  long http_status = 0;
  std::string body;
};

// One GET; any HTTP status is a value (the caller tells 200 from 403), only
// transport failures are errors.
Result<FetchedConfig> HttpGet(const std::string& url, std::chrono::seconds timeout);

// Retries transport failures and 5xx until `budget` is spent; 2xx and 4xx end it.
Result<FetchedConfig> FetchConfig(const std::string& url, std::chrono::seconds budget);

}  // namespace metalpxe::standin
