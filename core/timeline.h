#pragma once
// A machine's boot, told as one story: every DHCP exchange, TFTP transfer,
// HTTP fetch, Talos event, kernel-log milestone, state change and power
// action metalpxe saw for it, in order, so an operator who asks "why did it
// loop?" reads one list instead of joining events, logs and leases by hand.
//
// MachineTimeline keeps the newest `max_entries` of each machine in memory
// (what the API and the status page read) and hands every entry to the
// store's asynchronous writer (group commit: nothing on the boot path waits
// for a disk); older ones are trimmed in the store in chunks. Entries are
// keyed by the machine's primary MAC, so a renamed machine keeps its story.
//
// No secrets: entries are built by metalpxe from fields it chose (never a
// URL query, a kernel command line, a config), and every text passes
// through CleanTimelineText (config tokens redacted, control bytes dropped,
// bounded) before it is kept.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/net_types.h"
#include "core/result.h"

namespace metalpxe {

class Store;

enum class TimelineSource { kDhcp, kTftp, kHttp, kTalos, kKmsg, kState, kPower };
std::string_view TimelineSourceName(TimelineSource s);  // "dhcp", "tftp", ...
std::optional<TimelineSource> ParseTimelineSource(std::string_view name);

struct TimelineEntry {
  MacAddress mac;               // the machine's primary MAC
  std::int64_t seq = 0;         // increasing per machine; the store's key with mac
  std::int64_t time_unix_ms = 0;
  TimelineSource source = TimelineSource::kState;
  std::string summary;          // one line: "DHCP offer 10.66.0.100 ipxe.efi (full)"
  std::string details;          // more of the same, "key=value" pairs; never a secret
  std::uint32_t repeats = 0;    // the same thing happened again this many times right after
  std::int64_t last_unix_ms = 0;  // when it last happened (= time_unix_ms without repeats)
};

// Redacts config tokens, drops control bytes, cuts at `max_bytes` (on a
// UTF-8 boundary). Pure.
std::string CleanTimelineText(std::string_view text, std::size_t max_bytes);

struct MachineTimelineOptions {
  std::size_t max_entries = 500;    // per machine, newest kept
  std::size_t max_machines = 4096;  // beyond it new MACs are not recorded (a MAC flood cannot push out history)
  std::int64_t repeat_write_ms = 5000;  // a repeated entry's count is written at most this often
};

class MachineTimeline {
 public:
  using Clock = std::function<std::int64_t()>;  // unix milliseconds
  using Listener = std::function<void(const TimelineEntry&)>;

  // `store` may be null (memory only).
  MachineTimeline(Store* store, MachineTimelineOptions options = {}, Clock clock = {});

  // Restores the newest entries of these machines from the store.
  Status Load(const std::vector<MacAddress>& macs);

  // Records one entry (texts cleaned here). The same source, summary and
  // details as the machine's last entry are counted on it (`repeats`, the
  // entry written again under its seq) instead of a new one: a machine held
  // in a discover loop, or a DHCP retransmission, does not push out its
  // history. Returns false when nothing was kept (a machine past max_machines).
  bool Record(const MacAddress& mac, TimelineSource source, std::string_view summary, std::string_view details = {});

  // The newest `limit` entries of a machine, oldest first.
  std::vector<TimelineEntry> Entries(const MacAddress& mac, std::size_t limit = SIZE_MAX) const;

  // Live entries (API watch, status page). Called with the timeline's lock
  // held: a listener must only queue, never call back in.
  int Subscribe(Listener listener);
  void Unsubscribe(int id);

  std::uint64_t dropped_machines() const;

 private:
  struct Line {
    std::deque<TimelineEntry> entries;
    std::int64_t last_seq = 0;
    std::size_t untrimmed = 0;  // entries dropped from memory, not yet from the store
    // Repeats are written at most every repeat_write_ms (a retransmission
    // storm is not a write per packet); the last count is written when the
    // next entry comes.
    bool repeat_unwritten = false;
    std::int64_t last_write_ms = 0;
    bool trimmed_once = false;
  };
  std::int64_t NowMs() const;

  Store* store_;
  MachineTimelineOptions options_;
  Clock clock_;
  mutable std::mutex mu_;
  std::unordered_map<MacAddress, Line> lines_;
  std::map<int, Listener> listeners_;
  int next_listener_ = 1;
  std::uint64_t dropped_machines_ = 0;
};

}  // namespace metalpxe
