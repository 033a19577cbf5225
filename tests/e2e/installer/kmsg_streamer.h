#pragma once
// Streams /dev/kmsg to talos.logging.kernel as Talos does: one JSON line per
// kernel record over a TCP connection, reconnecting while the receiver is
// not there yet. Runs on its own thread until Stop().
#include <atomic>
#include <string>
#include <thread>

#include "tests/e2e/installer/kernel_cmdline.h"

namespace metalpxe::standin {

class KmsgStreamer {
 public:
  explicit KmsgStreamer(HostPort target);
  ~KmsgStreamer();  // stops and joins
  KmsgStreamer(const KmsgStreamer&) = delete;
  KmsgStreamer& operator=(const KmsgStreamer&) = delete;

  // Waits (bounded) until every record written so far has been sent, then
  // stops the thread.
  void FlushAndStop(std::chrono::milliseconds budget);
  uint64_t lines_sent() const { return lines_sent_.load(); }

 private:
  void Run();
  HostPort target_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> lines_sent_{0};
  std::atomic<bool> idle_{false};  // caught up with /dev/kmsg
  std::thread thread_;
};

}  // namespace metalpxe::standin
