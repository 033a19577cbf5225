#pragma once
// Retries with exponential backoff around one BMC action. Only transient
// failures are retried (unreachable, timed out, rate limited); a wrong
// password or an unsupported action fails at once, since repeating it cannot
// help and may lock the BMC account.
#include <chrono>
#include <functional>
#include <string_view>
#include <type_traits>

#include "core/result.h"

namespace metalpxe {

struct RetryPolicy {
  int max_attempts = 4;
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{10'000};
  double multiplier = 2.0;
};

bool IsTransient(const Status& s);
void SleepFor(std::chrono::milliseconds d);

// Backoff before attempt n (n >= 1 is the first retry): initial * multiplier^(n-1), capped.
std::chrono::milliseconds BackoffBefore(const RetryPolicy& policy, int retry);

// Calls f() until it returns a non-transient Status or attempts run out; the
// last Status is returned. f returns Status or Result<T>.
template <typename F>
auto WithRetries(const RetryPolicy& policy, F&& f) -> decltype(f()) {
  auto r = f();
  for (int retry = 1; retry < policy.max_attempts; ++retry) {
    Status s;
    if constexpr (std::is_same_v<decltype(r), Status>) s = r; else s = r.status();
    if (s.ok() || !IsTransient(s)) break;
    SleepFor(BackoffBefore(policy, retry));
    r = f();
  }
  return r;
}

}  // namespace metalpxe
