#include "ipmi/retry.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace metalpxe {

bool IsTransient(const Status& s) {
  switch (s.code()) {
    case ErrorCode::kUnavailable:
    case ErrorCode::kDeadlineExceeded:
    case ErrorCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

std::chrono::milliseconds BackoffBefore(const RetryPolicy& policy, int retry) {
  const double factor = std::pow(std::max(policy.multiplier, 1.0), std::max(retry - 1, 0));
  const double ms = std::min<double>(double(policy.initial_backoff.count()) * factor, double(policy.max_backoff.count()));
  return std::chrono::milliseconds(static_cast<long long>(ms));
}

void SleepFor(std::chrono::milliseconds d) {
  if (d.count() > 0) std::this_thread::sleep_for(d);
}

}  // namespace metalpxe
