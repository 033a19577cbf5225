#include "core/timeline.h"

#include <algorithm>
#include <array>
#include <chrono>

#include "core/log.h"
#include "core/redaction.h"
#include "core/store.h"

namespace metalpxe {
namespace {

constexpr std::array<std::string_view, 7> kSourceNames = {"dhcp", "tftp", "http", "talos", "kmsg", "state", "power"};

void IgnoreTimelineWrite(const Status& st) {
  if (!st.ok()) spdlog::warn("timeline: store write failed: {}", st.ToString());
}

// Length of the UTF-8 sequence `lead` starts, 0 when it cannot start one.
std::size_t TimelineUtf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

}  // namespace

std::string_view TimelineSourceName(TimelineSource s) { return kSourceNames[static_cast<std::size_t>(s)]; }

std::optional<TimelineSource> ParseTimelineSource(std::string_view name) {
  for (std::size_t i = 0; i < kSourceNames.size(); ++i)
    if (kSourceNames[i] == name) return static_cast<TimelineSource>(i);
  return std::nullopt;
}

std::string CleanTimelineText(std::string_view text, std::size_t max_bytes) {
  const std::string redacted = RedactConfigTokens(text);
  std::string out;
  out.reserve(std::min(redacted.size(), max_bytes));
  for (std::size_t i = 0; i < redacted.size();) {
    const auto c = static_cast<unsigned char>(redacted[i]);
    std::size_t n = TimelineUtf8Length(c);
    // Invalid UTF-8 (a truncated or stray byte) is dropped byte by byte.
    bool valid = n != 0 && i + n <= redacted.size();
    for (std::size_t k = 1; valid && k < n; ++k) valid = (static_cast<unsigned char>(redacted[i + k]) & 0xc0) == 0x80;
    if (!valid) {
      ++i;
      continue;
    }
    if (n == 1 && (c < 0x20 || c == 0x7f)) {
      if (c == '\t' || c == '\n' || c == '\r') {
        if (!out.empty() && out.back() != ' ' && out.size() < max_bytes) out += ' ';
      }
      ++i;
      continue;
    }
    if (out.size() + n > max_bytes) break;
    out.append(redacted, i, n);
    i += n;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

MachineTimeline::MachineTimeline(Store* store, MachineTimelineOptions options, Clock clock)
    : store_(store), options_(options), clock_(std::move(clock)) {
  if (options_.max_entries == 0) options_.max_entries = 1;
}

std::int64_t MachineTimeline::NowMs() const {
  if (clock_) return clock_();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status MachineTimeline::Load(const std::vector<MacAddress>& macs) {
  if (!store_) return Status::Ok();
  for (const auto& mac : macs) {
    auto loaded = store_->LoadTimeline(mac, options_.max_entries);
    if (!loaded.ok()) return loaded.status();
    if (loaded->empty()) continue;
    std::lock_guard lock(mu_);
    Line& line = lines_[mac];
    line.entries.assign(loaded->begin(), loaded->end());
    line.last_seq = line.entries.back().seq;
  }
  return Status::Ok();
}

bool MachineTimeline::Record(const MacAddress& mac, TimelineSource source, std::string_view summary,
                             std::string_view details) {
  TimelineEntry e;
  e.mac = mac;
  e.source = source;
  e.summary = CleanTimelineText(summary, 200);
  e.details = CleanTimelineText(details, 1000);
  e.time_unix_ms = NowMs();
  std::lock_guard lock(mu_);
  auto it = lines_.find(mac);
  if (it == lines_.end()) {
    if (lines_.size() >= options_.max_machines) {
      ++dropped_machines_;
      return false;
    }
    it = lines_.emplace(mac, Line{}).first;
  }
  Line& line = it->second;
  e.last_unix_ms = e.time_unix_ms;
  if (!line.entries.empty()) {
    TimelineEntry& last = line.entries.back();
    if (last.source == e.source && last.summary == e.summary && last.details == e.details) {
      ++last.repeats;
      last.last_unix_ms = std::max(last.last_unix_ms, e.time_unix_ms);
      line.repeat_unwritten = true;
      if (store_ && e.time_unix_ms - line.last_write_ms >= options_.repeat_write_ms) {
        store_->PutTimelineEntry(last, IgnoreTimelineWrite);
        line.repeat_unwritten = false;
        line.last_write_ms = e.time_unix_ms;
      }
      for (const auto& [id, listener] : listeners_) listener(last);
      return true;
    }
  }
  // Ids follow the clock (times 1000) so two appliances sharing one store
  // interleave in time order; within one process they only grow.
  e.seq = std::max(line.last_seq + 1, e.time_unix_ms * 1000);
  line.last_seq = e.seq;
  if (store_ && line.repeat_unwritten && !line.entries.empty())
    store_->PutTimelineEntry(line.entries.back(), IgnoreTimelineWrite);
  line.repeat_unwritten = false;
  line.last_write_ms = e.time_unix_ms;
  if (store_) store_->PutTimelineEntry(e, IgnoreTimelineWrite);
  line.entries.push_back(e);
  std::size_t popped = 0;
  for (; line.entries.size() > options_.max_entries; ++popped) line.entries.pop_front();
  line.untrimmed += popped;
  // The store is trimmed in chunks (a quarter of the bound), not per entry;
  // the first time right away, which also removes what a crash left behind.
  const std::size_t chunk = std::max<std::size_t>(1, options_.max_entries / 4);
  if (store_ && popped > 0 && (!line.trimmed_once || line.untrimmed >= chunk)) {
    store_->TrimTimeline(mac, line.entries.front().seq, IgnoreTimelineWrite);
    line.trimmed_once = true;
    line.untrimmed = 0;
  }
  for (const auto& [id, listener] : listeners_) listener(e);
  return true;
}

std::vector<TimelineEntry> MachineTimeline::Entries(const MacAddress& mac, std::size_t limit) const {
  std::lock_guard lock(mu_);
  auto it = lines_.find(mac);
  if (it == lines_.end()) return {};
  const auto& entries = it->second.entries;
  const std::size_t skip = entries.size() > limit ? entries.size() - limit : 0;
  return {entries.begin() + static_cast<std::ptrdiff_t>(skip), entries.end()};
}

int MachineTimeline::Subscribe(Listener listener) {
  std::lock_guard lock(mu_);
  listeners_[next_listener_] = std::move(listener);
  return next_listener_++;
}

void MachineTimeline::Unsubscribe(int id) {
  std::lock_guard lock(mu_);
  listeners_.erase(id);
}

std::uint64_t MachineTimeline::dropped_machines() const {
  std::lock_guard lock(mu_);
  return dropped_machines_;
}

}  // namespace metalpxe
