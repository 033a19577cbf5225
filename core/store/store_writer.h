#pragma once
// The store's single writer: a queue any thread may add to, and one thread
// that drains it. Each round takes everything queued, applies it in one
// transaction and commits once, so a burst of N writes costs one fsync
// instead of N (group commit); then it runs every write's callback with
// the outcome. Statements are prepared once and reused.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "core/result.h"
#include "core/store/sqlite_db.h"
#include "core/store/store_ops.h"

namespace metalpxe {

struct StoreWriterStats {
  std::uint64_t commits = 0;        // transactions committed (one fsync each)
  std::uint64_t writes = 0;         // writes applied in committed transactions
  std::uint64_t failed_writes = 0;  // writes whose callback got an error
  std::uint64_t largest_batch = 0;  // most writes in one transaction
};

class StoreWriter {
 public:
  // Takes a connection that is already in WAL mode and migrated.
  static Result<std::unique_ptr<StoreWriter>> Start(SqliteDb db, std::size_t max_events);
  // Applies everything still queued, then stops the thread and closes.
  ~StoreWriter();
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  void Submit(PendingWrite write);
  // True on the writer thread itself (inside a callback).
  bool OnWriterThread() const { return std::this_thread::get_id() == thread_.get_id(); }
  StoreWriterStats Stats() const;

 private:
  struct Statements {
    SqliteStatement begin, commit, rollback;
    SqliteStatement get_lease, put_lease, delete_lease, put_machine, put_cluster, put_upgrade, put_token, delete_expired_tokens, append_event,
        prune_events, put_timeline, trim_timeline, put_apply_target, delete_apply_target;
  };
  StoreWriter(SqliteDb db, Statements stmts, std::size_t max_events);

  void Run();
  void ApplyBatch(std::vector<PendingWrite>& batch, std::vector<Status>& results);
  Status Apply(const StoreOp& op);
  Status PutLease(const LeaseRecord& l);

  SqliteDb db_;
  Statements stmts_;
  const std::size_t max_events_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<PendingWrite> queue_;
  bool stopping_ = false;

  std::atomic<std::uint64_t> commits_{0}, writes_{0}, failed_writes_{0}, largest_batch_{0};
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace metalpxe
