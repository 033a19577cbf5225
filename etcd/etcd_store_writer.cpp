// EtcdStoreWriter, the scheduling half: the writer thread, the lanes that
// keep up to `pipeline` transactions in flight, and callbacks in submission
// order. What goes into a transaction is in etcd_store_txn.cpp.
#include "etcd/etcd_store_writer.h"

#include <random>

#include <spdlog/spdlog.h>

#include "etcd/etcd_kv.h"
#include "etcd/etcd_store_internal.h"

namespace metalpxe::etcd {

using namespace store_internal;

namespace {

std::string RandomWriterId() {
  std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> dist;
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(dist(rd)));
  return buf;
}

void RunCallback(const DurableCallback& done, const Status& st) {
  if (!done) return;
  // A throwing callback must not take the writer thread (and every later
  // write) down with it.
  try {
    done(st);
  } catch (const std::exception& e) {
    spdlog::error("etcd store: a write callback threw: {}", e.what());
  } catch (...) {
    spdlog::error("etcd store: a write callback threw a non-exception");
  }
}

}  // namespace

Result<std::unique_ptr<EtcdStoreWriter>> EtcdStoreWriter::Start(std::shared_ptr<EtcdClient> client, StoreKeys keys,
                                                                EtcdStoreOptions options) {
  if (options.max_txn_ops < 8)
    return Status(ErrorCode::kInvalidArgument, "etcd store: max_txn_ops below 8 leaves no room for writes");
  if (options.max_txn_bytes < 4096)
    return Status(ErrorCode::kInvalidArgument, "etcd store: max_txn_bytes below 4 KiB");
  if (options.max_rounds < 1) options.max_rounds = 1;
  options.pipeline = std::clamp<std::size_t>(options.pipeline, 1, 9);
  if (options.writer_id.empty()) options.writer_id = RandomWriterId();
  std::unique_ptr<EtcdStoreWriter> w(new EtcdStoreWriter(std::move(client), std::move(keys), std::move(options)));
  if (auto st = w->Preload(); !st.ok()) return st;
  w->thread_ = std::thread([p = w.get()] { p->Run(); });
  return w;
}

EtcdStoreWriter::EtcdStoreWriter(std::shared_ptr<EtcdClient> client, StoreKeys keys, EtcdStoreOptions options)
    : client_(std::move(client)), keys_(std::move(keys)), options_(std::move(options)) {
  lanes_.resize(options_.pipeline);
  for (std::size_t i = 0; i < lanes_.size(); ++i)
    lanes_[i].marker_key = keys_.Writer(options_.writer_id + "-" + std::to_string(i));
}

EtcdStoreWriter::~EtcdStoreWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  // The markers are only needed while this writer may repeat a transaction.
  for (const auto& lane : lanes_) {
    pb::DeleteRangeRequest del;
    del.set_key(lane.marker_key);
    CallOptions o;
    o.timeout = std::chrono::milliseconds(1000);
    (void)client_->DeleteRangeSync(del, o);
  }
}

void EtcdStoreWriter::Submit(PendingWrite write) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(write));
  }
  wake_.notify_one();
}

EtcdStoreStats EtcdStoreWriter::Stats() const {
  return {commits_.load(), writes_.load(), failed_writes_.load(), largest_batch_.load(), conflicts_.load(),
          refused_leases_.load()};
}

bool EtcdStoreWriter::Idle() const {
  if (!pending_.empty() || !finished_.empty()) return false;
  for (const auto& lane : lanes_)
    if (lane.batch) return false;
  return true;
}

void EtcdStoreWriter::Run() {
  while (true) {
    std::deque<PendingWrite> incoming;
    std::deque<Completion> done;
    {
      std::unique_lock lock(mu_);
      // Stop only once drained: the destructor promises to flush.
      wake_.wait(lock, [&] { return !queue_.empty() || !completions_.empty() || (stopping_ && Idle()); });
      if (queue_.empty() && completions_.empty()) return;
      incoming.swap(queue_);
      done.swap(completions_);
    }
    for (auto& w : incoming) pending_.push_back(std::move(w));
    for (auto& c : done) OnCompletion(std::move(c));
    FillLanes();
    RunReadyCallbacks();
  }
}

void EtcdStoreWriter::FillLanes() {
  while (!pending_.empty()) {
    if (std::holds_alternative<DeleteExpiredTokensOp>(pending_.front().op) ||
        std::holds_alternative<TrimTimelineOp>(pending_.front().op)) {
      // A delete of its own: after everything before it (so no entry it
      // removes is still in flight to be written back), alone.
      for (const auto& lane : lanes_)
        if (lane.batch) return;
      auto b = std::make_unique<Batch>();
      b->order = next_order_++;
      b->items.resize(1);
      b->items[0].write = std::move(pending_.front());
      pending_.pop_front();
      if (std::holds_alternative<TrimTimelineOp>(b->items[0].write.op)) {
        TrimTimeline(b->items[0]);
      } else {
        DeleteExpiredTokens(b->items[0]);
      }
      finished_[b->order] = std::move(b);
      continue;
    }
    std::size_t free = lanes_.size();
    for (std::size_t i = 0; i < lanes_.size() && free == lanes_.size(); ++i)
      if (!lanes_[i].batch) free = i;
    if (free == lanes_.size()) return;
    auto batch = TakeBatch(!events_in_flight_);
    if (!batch) return;  // the next write waits for a key or the event counter in flight
    batch->order = next_order_++;
    for (const auto& k : batch->keys) keys_in_flight_.insert(k);
    events_in_flight_ = events_in_flight_ || batch->events;
    lanes_[free].batch = std::move(batch);
    Send(free);
  }
}

void EtcdStoreWriter::Send(std::size_t index) {
  auto& lane = lanes_[index];
  auto& batch = *lane.batch;
  if (!DecideLeases(batch)) {
    Finish(index);
    return;
  }
  batch.seq = ++lane.seq;
  pb::TxnRequest txn;
  if (!BuildTxn(lane, batch, txn)) {
    SettleRemaining(batch, Status::Ok());  // nothing left to write (barriers, refused leases)
    Finish(index);
    return;
  }
  client_->Txn(
      txn,
      [this, index](Result<pb::TxnResponse> r) {
        {
          std::lock_guard lock(mu_);
          completions_.push_back({index, std::move(r)});
        }
        wake_.notify_one();
      },
      RepeatSafe());
}

void EtcdStoreWriter::OnCompletion(Completion c) {
  auto& lane = lanes_[c.lane];
  auto& batch = *lane.batch;
  if (!c.result.ok()) {
    // Maybe applied, maybe not: the callers hear it failed (no DHCPACK goes
    // out), and the lane's next compare on its marker tells which.
    SettleRemaining(batch, Status(c.result.status().code(), "etcd store: " + c.result.status().message()));
  } else if (c.result->succeeded()) {
    Applied(lane, batch, c.result->header().revision(), false);
  } else if (ReadBack(lane, *c.result, batch)) {
    Applied(lane, batch, lane.marker_mod, true);
  } else {
    ++conflicts_;
    if (++batch.rounds < options_.max_rounds) {
      Send(c.lane);  // decide again with what the read-back showed
      return;
    }
    SettleRemaining(batch, Status(ErrorCode::kUnavailable, "etcd store: gave up after " +
                                                             std::to_string(options_.max_rounds) +
                                                             " rounds: other writers keep changing the same keys"));
  }
  Finish(c.lane);
}

void EtcdStoreWriter::Finish(std::size_t index) {
  auto batch = std::move(lanes_[index].batch);
  for (const auto& k : batch->keys) keys_in_flight_.erase(k);
  if (batch->events) events_in_flight_ = false;
  finished_[batch->order] = std::move(batch);
}

void EtcdStoreWriter::RunReadyCallbacks() {
  while (!finished_.empty() && finished_.begin()->first == next_report_) {
    auto batch = std::move(finished_.begin()->second);
    finished_.erase(finished_.begin());
    ++next_report_;
    for (auto& it : batch->items) {
      if (!it.done) it.result = Status(ErrorCode::kInternal, "etcd store: write not processed");
      if (!it.result.ok()) ++failed_writes_;
      RunCallback(it.write.done, it.result);
    }
  }
}

void EtcdStoreWriter::TrimTimeline(Item& item) {
  const auto& trim = std::get<TrimTimelineOp>(item.write.op);
  item.done = true;
  // One range delete [first key of the machine, its key at keep_from): any
  // number of entries, one operation; repeating it changes nothing.
  pb::DeleteRangeRequest del;
  del.set_key(keys_.TimelinePrefix(trim.mac));
  del.set_range_end(keys_.TimelineEntryKey(trim.mac, trim.keep_from_seq));
  auto r = client_->DeleteRangeSync(del, RepeatSafe());
  item.result = r.ok() ? Status::Ok() : Status(r.status().code(), "etcd store: " + r.status().message());
}

void EtcdStoreWriter::DeleteExpiredTokens(Item& item) {
  const auto now = std::get<DeleteExpiredTokensOp>(item.write.op).now_unix;
  item.done = true;
  struct Expired {
    std::string key;
    std::int64_t mod_revision;
  };
  std::vector<Expired> expired;
  const std::string prefix = keys_.TokensPrefix();
  pb::RangeRequest page = PrefixRequest(prefix, 1000);
  while (true) {
    auto r = client_->RangeSync(page);
    if (!r.ok()) {
      item.result = Status(r.status().code(), "etcd store: " + r.status().message());
      return;
    }
    for (const auto& kv : r->kvs()) {
      auto t = DecodeToken(kv.value());
      if (t.ok() && t->expires_unix <= now) expired.push_back({kv.key(), kv.mod_revision()});
    }
    if (!r->more() || r->kvs_size() == 0) break;
    page.set_revision(r->header().revision());
    page.set_key(r->kvs(r->kvs_size() - 1).key() + '\0');
  }
  // Delete in transactions that each check the tokens were not rewritten
  // (a fetch count going up) since they were read; a changed one is read
  // again and deleted only if it is still expired.
  const std::size_t chunk = options_.max_txn_ops;
  for (std::size_t first = 0; first < expired.size(); first += chunk) {
    std::vector<Expired> part(expired.begin() + static_cast<std::ptrdiff_t>(first),
                              expired.begin() + static_cast<std::ptrdiff_t>(std::min(expired.size(), first + chunk)));
    for (int attempt = 0; attempt < 3 && !part.empty(); ++attempt) {
      pb::TxnRequest txn;
      for (const auto& e : part) {
        *txn.add_compare() = ModRevisionIs(e.key, e.mod_revision);
        *txn.add_success() = DeleteOp(e.key);
        *txn.add_failure() = GetOp(e.key);
      }
      auto r = client_->TxnSync(txn, RepeatSafe());
      if (!r.ok()) {
        item.result = Status(r.status().code(), "etcd store: " + r.status().message());
        return;
      }
      if (r->succeeded()) break;
      std::vector<Expired> again;
      for (int i = 0; i < r->responses_size(); ++i) {
        const auto& kvs = r->responses(i).response_range().kvs();
        if (kvs.empty()) continue;  // already gone
        auto t = DecodeToken(kvs[0].value());
        if (t.ok() && t->expires_unix <= now) again.push_back({kvs[0].key(), kvs[0].mod_revision()});
      }
      part = std::move(again);
    }
  }
  item.result = Status::Ok();
}

}  // namespace metalpxe::etcd
