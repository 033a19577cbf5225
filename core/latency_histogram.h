#pragma once
// A Prometheus-style histogram of durations in seconds: fixed upper bounds,
// one atomic counter per bucket, safe to Observe() from any thread without a
// lock (the DHCP loop, HTTP workers and TFTP transfers all report to one).
// Read() gives cumulative bucket counts as the exposition format wants them;
// the +Inf bucket is the count. A snapshot taken while others observe may
// miss the observations in flight; its buckets are still consistent (see
// Read()). The sum may include an observation whose bucket was not yet read.
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

namespace metalpxe {

class LatencyHistogram {
 public:
  // `bounds`: increasing upper bounds in seconds (le="..."), without +Inf.
  explicit LatencyHistogram(std::initializer_list<double> bounds) : LatencyHistogram(std::vector<double>(bounds)) {}
  explicit LatencyHistogram(std::vector<double> bounds)
      : bounds_(std::move(bounds)), buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

  void Observe(double seconds) {
    if (!(seconds >= 0)) seconds = 0;  // a clock step backwards, or NaN
    std::size_t i = 0;
    while (i < bounds_.size() && seconds > bounds_[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    // The sum in nanoseconds: an integer adds atomically everywhere.
    sum_ns_.fetch_add(static_cast<std::uint64_t>(seconds * 1e9), std::memory_order_relaxed);
  }

  struct Snapshot {
    std::vector<double> bounds;           // as given
    std::vector<std::uint64_t> cumulative;  // observations <= bounds[i]
    std::uint64_t count = 0;                // the +Inf bucket
    double sum_seconds = 0;
  };
  // Cumulative counts are computed from one pass over the buckets, so they
  // never decrease along the bounds and the +Inf bucket equals the count.
  Snapshot Read() const {
    Snapshot s;
    s.bounds = bounds_;
    std::uint64_t running = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
      running += buckets_[i].load(std::memory_order_relaxed);
      if (i < bounds_.size()) s.cumulative.push_back(running);
    }
    s.count = running;
    s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return s;
  }

  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<std::uint64_t> sum_ns_{0};
};

// Bucket bounds the appliance uses, chosen for what each measures.
// HTTP: an iPXE script in ~1 ms, a kernel (~100 MB) in seconds on 1 GbE,
// minutes on a slow link.
inline std::vector<double> HttpDurationBounds() {
  return {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
}
// TFTP: a 1 MB iPXE binary in ~0.1 s on a LAN; lock-step with a lossy link
// (retries at 1 s) runs to tens of seconds.
inline std::vector<double> TftpDurationBounds() { return {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}; }
// DHCP: receive to send of a reply; microseconds unless the store or the
// loop is slow. Firmware retries after ~4 s, so the top bound is there.
inline std::vector<double> DhcpLatencyBounds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 4};
}

}  // namespace metalpxe
