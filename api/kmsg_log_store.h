#pragma once
// Where received kernel log lines go: per machine key, a bounded in-memory
// ring (for `metalpxectl logs`), a bounded file <log_dir>/<key>.log rotated to
// <key>.log.1 at a size cap, and live followers. Thread-safe: the receiver
// appends on the event loop while the API reads tails from its threads.
//
// Every bound is per key, so one sender's flood only ever pushes out its own
// lines. Keys of machines we know (resolved to a name) and keys of unknown
// senders (their bare address) have separate budgets: however many addresses
// a bad neighbour sends from, it only evicts other unknown senders, and the
// files of an evicted unknown sender are removed with it.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/kmsg_line.h"

namespace metalpxe {

struct KmsgLogStoreOptions {
  std::filesystem::path log_dir;           // empty: memory only
  std::size_t ring_lines = 2000;           // per key
  std::size_t ring_bytes = 1 << 20;        // per key (lines may be up to the receiver's 16 KiB)
  std::size_t max_keys = 1024;             // known machines' rings kept; the least recently written is dropped
  std::size_t max_unknown_keys = 64;       // unknown senders' rings (and files) kept, likewise
  std::uint64_t file_max_bytes = 4 << 20;  // per file; one rotated .1 kept
};

enum class KmsgKeyKind { kKnownMachine, kUnknownSender };

class KmsgLogStore {
 public:
  struct Entry {
    KmsgLine line;
    std::string raw;  // the JSON line as received (what the file holds)
  };
  using SubscriptionId = std::uint64_t;
  using Follower = std::function<void(const KmsgLine&)>;

  explicit KmsgLogStore(KmsgLogStoreOptions options);

  // Appends a batch for one key: ring, file (opened once per batch), followers.
  void Append(const std::string& key, std::vector<Entry> entries,
              KmsgKeyKind kind = KmsgKeyKind::kKnownMachine);

  // The last n lines for key, oldest first.
  std::vector<KmsgLine> Tail(const std::string& key, std::size_t n) const;
  std::vector<std::string> Keys() const;

  // Followers run on the appending thread, with the follower lock held: they
  // must be quick and must not call Subscribe/Unsubscribe. After Unsubscribe
  // returns the follower is never called again.
  SubscriptionId Subscribe(const std::string& key, Follower follower);
  void Unsubscribe(SubscriptionId id);

  std::uint64_t file_errors() const;
  // The file a key is written to (after name sanitising).
  std::filesystem::path FileFor(const std::string& key) const;

 private:
  struct Ring {
    std::deque<KmsgLine> lines;
    std::size_t bytes = 0;         // of the lines held (LineBytes)
    std::uint64_t last_write = 0;  // append counter value, for eviction
    KmsgKeyKind kind = KmsgKeyKind::kKnownMachine;
  };
  // Makes room for one more ring of `kind`; returns the key evicted, if any.
  std::optional<std::string> EvictFor(KmsgKeyKind kind);
  void WriteFile(const std::string& key, const std::vector<Entry>& entries);
  void RemoveFiles(const std::string& key);

  KmsgLogStoreOptions options_;
  mutable std::mutex ring_mu_;
  std::map<std::string, Ring> rings_;
  std::uint64_t write_counter_ = 0;

  mutable std::mutex file_mu_;
  std::map<std::string, std::uint64_t> file_sizes_;  // bytes in <key>.log, learnt on first write
  std::uint64_t file_errors_ = 0;

  std::mutex follow_mu_;
  struct Sub {
    std::string key;
    Follower fn;
  };
  std::map<SubscriptionId, Sub> subs_;
  SubscriptionId next_sub_ = 1;
};

// A file-name-safe form of a key: [A-Za-z0-9._-] kept, others '_', at most
// 128 characters, never empty, "." or "..".
std::string SanitizeLogKey(std::string_view key);

}  // namespace metalpxe
