#include "core/fd_limit.h"

#include <sys/resource.h>

#include <mutex>

#include "core/log.h"

namespace metalpxe {

std::uint64_t RaiseOpenFileLimit() {
  static std::once_flag once;
  std::call_once(once, [] {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
    const rlim_t before = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      spdlog::warn("cannot raise the open-file limit from {} to {}", before, lim.rlim_max);
      return;
    }
    spdlog::debug("open-file limit raised from {} to {}", before, lim.rlim_cur);
  });
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  return lim.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<std::uint64_t>(lim.rlim_cur);
}

}  // namespace metalpxe
