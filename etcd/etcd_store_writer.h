#pragma once
// EtcdStore's single writer: like SqliteStore's (core/store/store_writer.h)
// a queue any thread adds to and one thread that drains it, committing many
// writes in one etcd transaction (group commit) and running each write's
// callback only after that transaction is committed, or failed.
//
// Each transaction is a compare-and-swap:
// - every lease write compares the key's mod_revision with the one this
//   writer last saw, and is decided first with LeaseWriteConflict
//   (core/lease_ownership.h) against that view; when another appliance
//   changed a key in between, the compare fails, the transaction's failure
//   branch reads the keys back, and the writer decides again with fresh
//   data. So an address held by one MAC is never written for another, by
//   any number of appliances.
// - events take ids from a counter key compared the same way, so ids grow in
//   commit order across appliances (a reader paging by id misses nothing).
// - a marker key of this writer (<prefix>writers/<id>) holds the number of
//   its last transaction. When an answer is lost and the client sends the
//   transaction again to another member, the repeat fails its compare on
//   the marker and reads it back: the marker naming this transaction says
//   the first attempt was applied. Nothing is applied twice, no success is
//   reported for a transaction that was not applied.
//
// A transaction holds at most max_txn_ops operations and max_txn_bytes
// (etcd's --max-txn-ops, default 128, and --max-request-bytes, 1.5 MiB); a
// key appears at most once per transaction (etcd refuses duplicates).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/store/store_ops.h"
#include "etcd/etcd_client.h"
#include "etcd/etcd_store_codec.h"

namespace metalpxe::etcd {

struct EtcdStoreOptions {
  std::size_t max_events = 100000;          // newest events kept; 0 = unbounded
  std::size_t max_txn_ops = 128;            // etcd's --max-txn-ops
  std::size_t max_txn_bytes = 1024 * 1024;  // below etcd's --max-request-bytes (1.5 MiB)
  std::string writer_id;                    // "" = random (one marker key per writer)
  int max_rounds = 8;                       // compare failures one batch may meet before it fails
};

struct EtcdStoreStats {
  std::uint64_t commits = 0;        // transactions committed
  std::uint64_t writes = 0;         // writes committed
  std::uint64_t failed_writes = 0;  // writes whose callback got an error
  std::uint64_t largest_batch = 0;  // most writes in one transaction
  std::uint64_t conflicts = 0;      // transactions whose compare failed (another writer was first)
  std::uint64_t refused_leases = 0; // lease writes refused: address held by another MAC
};

class EtcdStoreWriter {
 public:
  // Reads the leases and the event counter (so the first writes compare
  // against what is there), then starts the thread.
  static Result<std::unique_ptr<EtcdStoreWriter>> Start(std::shared_ptr<EtcdClient> client, StoreKeys keys,
                                                        EtcdStoreOptions options);
  // Commits everything still queued (running the callbacks), then stops.
  ~EtcdStoreWriter();
  EtcdStoreWriter(const EtcdStoreWriter&) = delete;
  EtcdStoreWriter& operator=(const EtcdStoreWriter&) = delete;

  void Submit(PendingWrite write);
  bool OnWriterThread() const { return std::this_thread::get_id() == thread_.get_id(); }
  EtcdStoreStats Stats() const;

  // One write of a batch: its key and encoded value, and how it ended.
  struct Item {
    PendingWrite write;
    std::string key;
    std::string value;  // empty for deletes and barriers
    Status result;
    bool done = false;  // result is final
  };

 private:
  struct CachedLease {
    std::int64_t mod_revision = 0;  // 0: the key did not exist
    std::optional<LeaseRecord> record;
    bool fresh = false;  // read back during the current batch
  };

  EtcdStoreWriter(std::shared_ptr<EtcdClient> client, StoreKeys keys, EtcdStoreOptions options);
  Status Preload();
  void Run();
  void Process(std::deque<PendingWrite>& queue);
  std::vector<Item> TakeBatch(std::deque<PendingWrite>& queue);
  void Commit(std::vector<Item>& batch);
  // Builds the transaction for the items not yet done; false when nothing to write.
  bool BuildTxn(std::vector<Item>& batch, std::uint64_t seq, pb::TxnRequest& txn, std::int64_t& first_event_id);
  void Applied(std::vector<Item>& batch, std::int64_t revision, std::int64_t first_event_id, bool read_back);
  bool ReadBack(const pb::TxnResponse& resp, std::uint64_t seq, const std::vector<Item>& batch);
  bool DecideLeases(std::vector<Item>& batch);
  Status RefreshLeases(const std::vector<Ipv4Address>& ips);
  void NoteLease(Ipv4Address ip, const mvccpb::KeyValue* kv);
  void DeleteExpiredTokens(Item& item);
  void Finish(std::vector<Item>& batch);

  std::shared_ptr<EtcdClient> client_;
  const StoreKeys keys_;
  const EtcdStoreOptions options_;
  const std::string marker_key_;

  // Writer thread only.
  std::unordered_map<Ipv4Address, CachedLease> leases_;
  std::int64_t marker_mod_ = 0;
  std::uint64_t txn_seq_ = 0;
  std::int64_t event_seq_mod_ = 0, event_seq_last_ = 0;

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<PendingWrite> queue_;
  bool stopping_ = false;

  std::atomic<std::uint64_t> commits_{0}, writes_{0}, failed_writes_{0}, largest_batch_{0}, conflicts_{0},
      refused_leases_{0};
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace metalpxe::etcd
