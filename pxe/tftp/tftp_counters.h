#pragma once
// The server's live counters: atomics, so Stats() may be read from any thread
// while the event loop updates them.
#include <atomic>
#include <cstdint>

#include "pxe/tftp/tftp_options.h"

namespace metalpxe::tftp {

struct TftpCounters {
  std::atomic<std::uint64_t> transfers_started{0};
  std::atomic<std::uint64_t> transfers_completed{0};
  std::atomic<std::uint64_t> transfers_failed{0};
  std::atomic<std::uint64_t> requests_refused{0};
  std::atomic<std::uint64_t> bytes_sent{0};
  std::atomic<std::uint64_t> retransmits{0};
  std::atomic<std::uint64_t> active_transfers{0};
  std::atomic<std::uint64_t> requests_waited{0};
  std::atomic<std::uint64_t> requests_dropped{0};
  LatencyHistogram durations{TftpDurationBounds()};

  TftpStats Snapshot() const {
    constexpr auto r = std::memory_order_relaxed;
    return {transfers_started.load(r), transfers_completed.load(r), transfers_failed.load(r),
            requests_refused.load(r),  bytes_sent.load(r),          retransmits.load(r),
            active_transfers.load(r),  requests_waited.load(r), requests_dropped.load(r),
            durations.Read()};
  }
};

}  // namespace metalpxe::tftp
