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
// - a marker key of this writer (<prefix>writers/<id>-<lane>) holds the
//   number of its last transaction. When an answer is lost and the client sends the
//   transaction again to another member, the repeat fails its compare on
//   the marker and reads it back: the marker naming this transaction says
//   the first attempt was applied. Nothing is applied twice, no success is
//   reported for a transaction that was not applied.
//
// A transaction holds at most max_txn_ops operations and max_txn_bytes
// (etcd's --max-txn-ops, default 128, and --max-request-bytes, 1.5 MiB); a
// key appears at most once per transaction (etcd refuses duplicates).
//
// Up to `pipeline` transactions are in flight at once (etcd commits them
// together), each in its own lane with its own marker. No key is written by
// two transactions in flight, and only one of them carries events (the
// counter); callbacks still run in submission order.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
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
  std::size_t pipeline = 4;                 // transactions in flight at once (1 = one after the other)
  std::string writer_id;                    // "" = random (one marker key per writer and lane)
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
  // Writes that go to etcd in one transaction (again after a lost compare).
  struct Batch {
    std::uint64_t order = 0;  // callbacks run in this order, whatever the commit order
    std::vector<Item> items;
    std::vector<std::string> keys;  // keys it writes: no other batch in flight writes them
    bool events = false;
    int rounds = 0;
    std::uint64_t seq = 0;  // the lane's number for the attempt in flight (the marker value)
    std::int64_t first_event_id = 0;
  };

 private:
  struct CachedLease {
    std::int64_t mod_revision = 0;  // 0: the key did not exist
    std::optional<LeaseRecord> record;
    bool fresh = false;  // read back during the current batch
  };
  // One transaction in flight at a time per lane, each lane with its marker.
  struct Lane {
    std::string marker_key;
    std::int64_t marker_mod = 0;
    std::uint64_t seq = 0;
    std::unique_ptr<Batch> batch;  // null: idle
  };
  struct Completion {
    std::size_t lane;
    Result<pb::TxnResponse> result;
  };

  EtcdStoreWriter(std::shared_ptr<EtcdClient> client, StoreKeys keys, EtcdStoreOptions options);

  // Scheduling (etcd_store_writer.cpp): the thread, lanes, callback order.
  void Run();
  bool Idle() const;
  void FillLanes();
  void Send(std::size_t lane);
  void OnCompletion(Completion c);
  void Finish(std::size_t lane);
  void RunReadyCallbacks();
  void DeleteExpiredTokens(Item& item);
  void TrimTimeline(Item& item);

  // Transactions (etcd_store_txn.cpp): what is in one and what its answer means.
  Status Preload();
  std::unique_ptr<Batch> TakeBatch(bool events_allowed);
  bool DecideLeases(Batch& batch);
  Status RefreshLeases(const std::vector<Ipv4Address>& ips);
  void NoteLease(Ipv4Address ip, const mvccpb::KeyValue* kv);
  bool BuildTxn(Lane& lane, Batch& batch, pb::TxnRequest& txn);
  bool ReadBack(Lane& lane, const pb::TxnResponse& resp, const Batch& batch);
  void Applied(Lane& lane, Batch& batch, std::int64_t revision, bool read_back);

  std::shared_ptr<EtcdClient> client_;
  const StoreKeys keys_;
  const EtcdStoreOptions options_;

  // Writer thread only.
  std::vector<Lane> lanes_;
  std::deque<PendingWrite> pending_;
  std::unordered_set<std::string> keys_in_flight_;
  bool events_in_flight_ = false;
  std::uint64_t next_order_ = 0, next_report_ = 0;
  std::map<std::uint64_t, std::unique_ptr<Batch>> finished_;
  std::unordered_map<Ipv4Address, CachedLease> leases_;
  std::int64_t event_seq_mod_ = 0, event_seq_last_ = 0;

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<PendingWrite> queue_;
  std::deque<Completion> completions_;
  bool stopping_ = false;

  std::atomic<std::uint64_t> commits_{0}, writes_{0}, failed_writes_{0}, largest_batch_{0}, conflicts_{0},
      refused_leases_{0};
  std::thread thread_;  // started by Start() once the state is loaded
};

}  // namespace metalpxe::etcd
