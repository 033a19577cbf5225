#include "etcd/etcd_store_writer.h"

#include <chrono>
#include <random>

#include <spdlog/spdlog.h>

#include "core/lease_ownership.h"
#include "etcd/etcd_kv.h"

namespace metalpxe::etcd {
namespace {

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

std::int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string RandomWriterId() {
  std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> dist;
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(dist(rd)));
  return buf;
}

void RunCallback(const DurableCallback& done, const Status& st) {
  if (!done) return;
  try {
    done(st);
  } catch (const std::exception& e) {
    spdlog::error("etcd store: a write callback threw: {}", e.what());
  } catch (...) {
    spdlog::error("etcd store: a write callback threw a non-exception");
  }
}

// Room each piece takes in the request: the key and value plus protobuf
// framing and the fixed fields, rounded up.
constexpr std::size_t kOpOverhead = 32;

CallOptions RepeatSafe() {
  CallOptions o;
  o.repeat_safe = true;  // see the marker in the header comment
  return o;
}

bool IsEvent(const EtcdStoreWriter::Item& i) { return std::holds_alternative<EventRecord>(i.write.op); }
const LeaseRecord* LeasePut(const EtcdStoreWriter::Item& i) { return std::get_if<LeaseRecord>(&i.write.op); }

}  // namespace

Result<std::unique_ptr<EtcdStoreWriter>> EtcdStoreWriter::Start(std::shared_ptr<EtcdClient> client, StoreKeys keys,
                                                                EtcdStoreOptions options) {
  if (options.max_txn_ops < 8)
    return Status(ErrorCode::kInvalidArgument, "etcd store: max_txn_ops below 8 leaves no room for writes");
  if (options.max_txn_bytes < 4096)
    return Status(ErrorCode::kInvalidArgument, "etcd store: max_txn_bytes below 4 KiB");
  if (options.max_rounds < 1) options.max_rounds = 1;
  if (options.writer_id.empty()) options.writer_id = RandomWriterId();
  std::unique_ptr<EtcdStoreWriter> w(new EtcdStoreWriter(std::move(client), std::move(keys), std::move(options)));
  if (auto st = w->Preload(); !st.ok()) return st;
  w->thread_ = std::thread([p = w.get()] { p->Run(); });
  return w;
}

EtcdStoreWriter::EtcdStoreWriter(std::shared_ptr<EtcdClient> client, StoreKeys keys, EtcdStoreOptions options)
    : client_(std::move(client)), keys_(std::move(keys)), options_(std::move(options)),
      marker_key_(keys_.Writer(options_.writer_id)) {}

EtcdStoreWriter::~EtcdStoreWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  // The marker is only needed while this writer may repeat a transaction.
  pb::DeleteRangeRequest del;
  del.set_key(marker_key_);
  CallOptions o;
  o.timeout = std::chrono::milliseconds(1000);
  (void)client_->DeleteRangeSync(del, o);
}

Status EtcdStoreWriter::Preload() {
  // Every lease, page by page at one revision, so the first write of each
  // address compares against what is there instead of losing a round.
  const std::string prefix = keys_.LeasesPrefix();
  pb::RangeRequest page = PrefixRequest(prefix, 1000);
  while (true) {
    auto r = client_->RangeSync(page);
    if (!r.ok()) return r.status();
    for (const auto& kv : r->kvs()) {
      auto ip = Ipv4Address::Parse(std::string_view(kv.key()).substr(prefix.size()));
      if (ip) NoteLease(*ip, &kv);
    }
    if (!r->more() || r->kvs_size() == 0) break;
    page.set_revision(r->header().revision());
    page.set_key(r->kvs(r->kvs_size() - 1).key() + '\0');
  }
  for (auto& [ip, c] : leases_) c.fresh = false;
  auto seq = client_->RangeSync(GetRequest(keys_.EventSeq()));
  if (!seq.ok()) return seq.status();
  if (seq->kvs_size() > 0) {
    auto last = DecodeCounter(seq->kvs(0).value());
    if (!last.ok()) return last.status();
    event_seq_mod_ = seq->kvs(0).mod_revision();
    event_seq_last_ = *last;
  }
  return Status::Ok();
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

void EtcdStoreWriter::Run() {
  std::deque<PendingWrite> local;
  while (true) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and drained: the destructor promises to flush
      local.swap(queue_);
    }
    Process(local);
  }
}

void EtcdStoreWriter::Process(std::deque<PendingWrite>& queue) {
  while (!queue.empty()) {
    if (std::holds_alternative<DeleteExpiredTokensOp>(queue.front().op)) {
      std::vector<Item> one(1);
      one[0].write = std::move(queue.front());
      queue.pop_front();
      DeleteExpiredTokens(one[0]);
      Finish(one);
      continue;
    }
    auto batch = TakeBatch(queue);
    Commit(batch);
    Finish(batch);
  }
}

std::vector<EtcdStoreWriter::Item> EtcdStoreWriter::TakeBatch(std::deque<PendingWrite>& queue) {
  std::vector<Item> batch;
  std::unordered_set<std::string> keys;
  // The marker's compare, put and read-back are in every transaction.
  std::size_t ops = 1, bytes = 3 * (marker_key_.size() + kOpOverhead);
  bool events = false;
  const std::size_t event_key = keys_.Event(0).size(), seq_key = keys_.EventSeq().size();
  while (!queue.empty() && !std::holds_alternative<DeleteExpiredTokensOp>(queue.front().op)) {
    Item it;
    std::visit(Overloaded{
                   [&](const LeaseRecord& l) { it.key = keys_.Lease(l.ip), it.value = EncodeLease(l); },
                   [&](const DeleteLeaseOp& d) { it.key = keys_.Lease(d.ip); },
                   [&](const MachineRecord& m) { it.key = keys_.Machine(m.mac), it.value = EncodeMachine(m); },
                   [&](const TokenRecord& t) { it.key = keys_.Token(t.token_hash), it.value = EncodeToken(t); },
                   [&](EventRecord& e) {
                     if (e.time_unix_ms == 0) e.time_unix_ms = NowUnixMs();
                     it.value = EncodeEvent(e);
                   },
                   [&](const auto&) {},
               },
               queue.front().op);
    const bool event = std::holds_alternative<EventRecord>(queue.front().op);
    const bool barrier = std::holds_alternative<BarrierOp>(queue.front().op);
    const bool lease_put = std::holds_alternative<LeaseRecord>(queue.front().op);
    std::size_t add_ops = barrier ? 0 : 1;
    std::size_t add_bytes = (event ? event_key : it.key.size()) + it.value.size() + kOpOverhead;
    if (lease_put) add_bytes += 2 * (it.key.size() + kOpOverhead);  // its compare and read-back
    if (event && !events) {
      add_ops += 2;  // the counter's put and the pruning delete
      add_bytes += 3 * (seq_key + kOpOverhead) + 2 * (event_key + kOpOverhead);
    }
    if (!it.key.empty() && keys.count(it.key) != 0) break;  // one key once per transaction
    if (ops + add_ops > options_.max_txn_ops) break;
    if (bytes + add_bytes > options_.max_txn_bytes) {
      if (!batch.empty()) break;
      // Alone and still too big: it can never be written.
      it.done = true;
      it.result = Status(ErrorCode::kResourceExhausted,
                         "etcd store: a record of " + std::to_string(it.value.size()) +
                             " bytes does not fit in one etcd request (max " +
                             std::to_string(options_.max_txn_bytes) + ")");
    }
    it.write = std::move(queue.front());
    queue.pop_front();
    if (!it.key.empty()) keys.insert(it.key);
    ops += add_ops;
    bytes += add_bytes;
    events = events || event;
    batch.push_back(std::move(it));
    if (batch.back().done) break;
  }
  return batch;
}

void EtcdStoreWriter::Commit(std::vector<Item>& batch) {
  for (const auto& it : batch)
    if (const auto* l = LeasePut(it)) leases_[l->ip].fresh = false;
  for (int round = 0; round < options_.max_rounds; ++round) {
    if (!DecideLeases(batch)) return;
    const auto seq = ++txn_seq_;
    pb::TxnRequest txn;
    std::int64_t first_event_id = 0;
    if (!BuildTxn(batch, seq, txn, first_event_id)) {
      for (auto& it : batch)
        if (!it.done) it.done = true, it.result = Status::Ok();  // barriers only
      return;
    }
    auto r = client_->TxnSync(txn, RepeatSafe());
    if (!r.ok()) {
      // Maybe applied, maybe not: the callers hear it failed (no DHCPACK
      // goes out), and the next transaction's compare on the marker tells.
      for (auto& it : batch)
        if (!it.done) it.done = true, it.result = Status(r.status().code(), "etcd store: " + r.status().message());
      return;
    }
    if (r->succeeded()) {
      Applied(batch, r->header().revision(), first_event_id, false);
      return;
    }
    if (ReadBack(*r, seq, batch)) {
      Applied(batch, marker_mod_, first_event_id, true);
      return;
    }
    ++conflicts_;
  }
  for (auto& it : batch) {
    if (it.done) continue;
    it.done = true;
    it.result = Status(ErrorCode::kUnavailable, "etcd store: gave up after " + std::to_string(options_.max_rounds) +
                                                    " rounds: other writers keep changing the same keys");
  }
}

bool EtcdStoreWriter::DecideLeases(std::vector<Item>& batch) {
  const auto now = NowUnix();
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<Ipv4Address> stale;
    for (auto& it : batch) {
      const auto* l = LeasePut(it);
      if (it.done || l == nullptr) continue;
      auto& c = leases_[l->ip];
      auto conflict = LeaseWriteConflict(c.record ? &*c.record : nullptr, *l, now);
      if (!conflict) continue;
      if (!c.fresh) {
        stale.push_back(l->ip);  // another writer may have freed it since: read before refusing
        continue;
      }
      it.done = true;
      it.result = Status(ErrorCode::kAlreadyExists, "etcd store: " + *conflict);
      ++refused_leases_;
    }
    if (stale.empty()) return true;
    if (auto st = RefreshLeases(stale); !st.ok()) {
      for (auto& it : batch)
        if (!it.done) it.done = true, it.result = Status(st.code(), "etcd store: " + st.message());
      return false;
    }
  }
  return true;
}

Status EtcdStoreWriter::RefreshLeases(const std::vector<Ipv4Address>& ips) {
  for (std::size_t first = 0; first < ips.size(); first += options_.max_txn_ops) {
    pb::TxnRequest txn;
    const std::size_t last = std::min(ips.size(), first + options_.max_txn_ops);
    for (std::size_t i = first; i < last; ++i) *txn.add_success() = GetOp(keys_.Lease(ips[i]));
    auto r = client_->TxnSync(txn);
    if (!r.ok()) return r.status();
    for (std::size_t i = first; i < last; ++i) {
      const auto& kvs = r->responses(static_cast<int>(i - first)).response_range().kvs();
      NoteLease(ips[i], kvs.empty() ? nullptr : &kvs[0]);
    }
  }
  return Status::Ok();
}

void EtcdStoreWriter::NoteLease(Ipv4Address ip, const mvccpb::KeyValue* kv) {
  auto& c = leases_[ip];
  c.fresh = true;
  if (kv == nullptr) {
    c.mod_revision = 0;
    c.record.reset();
    return;
  }
  c.mod_revision = kv->mod_revision();
  auto rec = DecodeLease(kv->value());
  // A damaged value is overwritten rather than allowed to block the address
  // forever (as SqliteStore does with a damaged row).
  if (rec.ok() && rec->ip == ip) {
    c.record = *rec;
  } else {
    spdlog::warn("etcd store: lease {} holds a damaged value; it will be replaced", kv->key());
    c.record.reset();
  }
}

bool EtcdStoreWriter::BuildTxn(std::vector<Item>& batch, std::uint64_t seq, pb::TxnRequest& txn,
                               std::int64_t& first_event_id) {
  bool writes = false;
  std::size_t events = 0;
  for (const auto& it : batch) events += !it.done && IsEvent(it);
  *txn.add_compare() = ModRevisionIs(marker_key_, marker_mod_);
  *txn.add_success() = PutOp(marker_key_, EncodeCounter(static_cast<std::int64_t>(seq)));
  *txn.add_failure() = GetOp(marker_key_);
  if (events > 0) {
    *txn.add_compare() = ModRevisionIs(keys_.EventSeq(), event_seq_mod_);
    *txn.add_failure() = GetOp(keys_.EventSeq());
  }
  std::int64_t next_id = event_seq_last_ + 1;
  first_event_id = next_id;
  // Events older than the newest max_events are pruned in this same
  // transaction; those of this batch below that line are never written (a
  // put inside the deleted range would be a duplicate key to etcd).
  const auto keep = static_cast<std::int64_t>(options_.max_events);
  const std::int64_t last_id = event_seq_last_ + static_cast<std::int64_t>(events);
  const std::int64_t cutoff = keep > 0 ? last_id - keep + 1 : 0;
  for (auto& it : batch) {
    if (it.done) continue;
    std::visit(Overloaded{
                   [&](const LeaseRecord& l) {
                     *txn.add_compare() = ModRevisionIs(it.key, leases_[l.ip].mod_revision);
                     *txn.add_success() = PutOp(it.key, it.value);
                     *txn.add_failure() = GetOp(it.key);
                     writes = true;
                   },
                   [&](const DeleteLeaseOp&) { *txn.add_success() = DeleteOp(it.key), writes = true; },
                   [&](const EventRecord&) {
                     const std::int64_t id = next_id++;
                     it.key = keys_.Event(id);
                     if (id >= cutoff) *txn.add_success() = PutOp(it.key, it.value);
                     writes = true;
                   },
                   [&](const BarrierOp&) {},
                   [&](const DeleteExpiredTokensOp&) {},
                   [&](const auto&) { *txn.add_success() = PutOp(it.key, it.value), writes = true; },
               },
               it.write.op);
  }
  if (events > 0) {
    *txn.add_success() = PutOp(keys_.EventSeq(), EncodeCounter(last_id));
    if (cutoff > 1) *txn.add_success() = DeleteOp(keys_.EventsPrefix(), keys_.Event(std::min(cutoff, first_event_id)));
  }
  return writes;
}

bool EtcdStoreWriter::ReadBack(const pb::TxnResponse& resp, std::uint64_t seq, const std::vector<Item>& batch) {
  int index = 0;
  auto kv_at = [&](int i) -> const mvccpb::KeyValue* {
    if (i >= resp.responses_size()) return nullptr;
    const auto& kvs = resp.responses(i).response_range().kvs();
    return kvs.empty() ? nullptr : &kvs[0];
  };
  const auto* marker = kv_at(index++);
  marker_mod_ = marker ? marker->mod_revision() : 0;
  const bool applied = marker && marker->value() == EncodeCounter(static_cast<std::int64_t>(seq));
  bool events = false;
  for (const auto& it : batch) events = events || (!it.done && IsEvent(it));
  if (events) {
    const auto* counter = kv_at(index++);
    event_seq_mod_ = counter ? counter->mod_revision() : 0;
    auto last = counter ? DecodeCounter(counter->value()) : Result<std::int64_t>(std::int64_t{0});
    if (last.ok()) {
      event_seq_last_ = *last;
    } else {
      // Keep ids above anything handed out; the next put repairs the counter.
      spdlog::error("etcd store: {}", last.status().message());
      event_seq_last_ += 1'000'000;
    }
  }
  for (const auto& it : batch) {
    if (const auto* l = LeasePut(it); l != nullptr && !it.done) NoteLease(l->ip, kv_at(index++));
  }
  return applied;
}

void EtcdStoreWriter::Applied(std::vector<Item>& batch, std::int64_t revision, std::int64_t first_event_id,
                              bool read_back) {
  std::uint64_t n = 0;
  std::int64_t last_event = first_event_id - 1;
  for (auto& it : batch) {
    if (it.done) continue;
    it.done = true;
    it.result = Status::Ok();
    ++n;
    if (IsEvent(it)) ++last_event;
    if (read_back) continue;  // ReadBack already holds the keys as they are now
    if (const auto* l = LeasePut(it)) {
      leases_[l->ip] = CachedLease{revision, *l, true};
    } else if (const auto* d = std::get_if<DeleteLeaseOp>(&it.write.op)) {
      leases_[d->ip] = CachedLease{0, std::nullopt, true};
    }
  }
  if (!read_back) {
    marker_mod_ = revision;
    if (last_event >= first_event_id) {
      event_seq_mod_ = revision;
      event_seq_last_ = last_event;
    }
  }
  ++commits_;
  writes_ += n;
  std::uint64_t prev = largest_batch_.load();
  while (n > prev && !largest_batch_.compare_exchange_weak(prev, n)) {
  }
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

void EtcdStoreWriter::Finish(std::vector<Item>& batch) {
  for (auto& it : batch) {
    if (!it.done) it.result = Status(ErrorCode::kInternal, "etcd store: write not processed");
    if (!it.result.ok()) ++failed_writes_;
    RunCallback(it.write.done, it.result);
  }
}

}  // namespace metalpxe::etcd
