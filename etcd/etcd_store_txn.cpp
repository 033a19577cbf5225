// EtcdStoreWriter, the transaction half: what goes into one etcd
// transaction (limits, compares, the marker, event ids and pruning), how
// leases are decided against the writer's view of etcd, and what a failed
// compare's read-back means. Scheduling is in etcd_store_writer.cpp.
#include <spdlog/spdlog.h>

#include "core/lease_ownership.h"
#include "etcd/etcd_kv.h"
#include "etcd/etcd_store_internal.h"
#include "etcd/etcd_store_writer.h"

namespace metalpxe::etcd {

using namespace store_internal;

namespace {
// Room each piece takes in the request: the key and value plus protobuf
// framing and the fixed fields, rounded up.
constexpr std::size_t kOpOverhead = 32;
}  // namespace

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

std::unique_ptr<EtcdStoreWriter::Batch> EtcdStoreWriter::TakeBatch(bool events_allowed) {
  auto batch = std::make_unique<Batch>();
  std::unordered_set<std::string> keys;
  const std::string marker = keys_.Writer(options_.writer_id + "-0");
  // The marker's compare, put and read-back are in every transaction.
  std::size_t ops = 1, bytes = 3 * (marker.size() + kOpOverhead);
  const std::size_t event_key = keys_.Event(0).size(), seq_key = keys_.EventSeq().size();
  while (!pending_.empty() && !std::holds_alternative<DeleteExpiredTokensOp>(pending_.front().op) &&
         !std::holds_alternative<TrimTimelineOp>(pending_.front().op)) {
    auto& front = pending_.front();
    const bool event = std::holds_alternative<EventRecord>(front.op);
    if (event && !events_allowed) break;  // the counter belongs to the batch in flight
    Item it;
    std::visit(Overloaded{
                   [&](const LeaseRecord& l) { it.key = keys_.Lease(l.ip), it.value = EncodeLease(l); },
                   [&](const DeleteLeaseOp& d) { it.key = keys_.Lease(d.ip); },
                   [&](const MachineRecord& m) { it.key = keys_.Machine(m.mac), it.value = EncodeMachine(m); },
                   [&](const TokenRecord& t) { it.key = keys_.Token(t.token_hash), it.value = EncodeToken(t); },
                   [&](const ClusterRecord& c) { it.key = keys_.Cluster(c.name), it.value = EncodeCluster(c); },
                   [&](const UpgradeRecord& u) { it.key = keys_.Upgrade(u.cluster), it.value = EncodeUpgrade(u); },
                   [&](const ApplyTargetRecord& t) { it.key = keys_.ApplyTarget(t.mac), it.value = EncodeApplyTarget(t); },
                   [&](const DeleteApplyTargetOp& d) { it.key = keys_.ApplyTarget(d.mac); },
                   [&](const TimelineEntry& e) {
                     it.key = keys_.TimelineEntryKey(e.mac, e.seq), it.value = EncodeTimelineEntry(e);
                   },
                   [&](EventRecord& e) {
                     if (e.time_unix_ms == 0) e.time_unix_ms = NowUnixMs();
                     it.value = EncodeEvent(e);
                   },
                   [&](const auto&) {},
               },
               front.op);
    // One key once per transaction, and never in two transactions in flight.
    if (!it.key.empty() && (keys.count(it.key) != 0 || keys_in_flight_.count(it.key) != 0)) break;
    const bool barrier = std::holds_alternative<BarrierOp>(front.op);
    const bool lease_put = std::holds_alternative<LeaseRecord>(front.op);
    std::size_t add_ops = barrier ? 0 : 1;
    std::size_t add_bytes = (event ? event_key : it.key.size()) + it.value.size() + kOpOverhead;
    if (lease_put) add_bytes += 2 * (it.key.size() + kOpOverhead);  // its compare and read-back
    if (event && !batch->events) {
      add_ops += 2;  // the counter's put and the pruning delete
      add_bytes += 3 * (seq_key + kOpOverhead) + 2 * (event_key + kOpOverhead);
    }
    if (ops + add_ops > options_.max_txn_ops) break;
    if (bytes + add_bytes > options_.max_txn_bytes) {
      if (!batch->items.empty()) break;
      // Alone and still too big: it can never be written.
      it.done = true;
      it.result = Status(ErrorCode::kResourceExhausted,
                         "etcd store: a record of " + std::to_string(it.value.size()) +
                             " bytes does not fit in one etcd request (max " +
                             std::to_string(options_.max_txn_bytes) + ")");
    }
    it.write = std::move(front);
    pending_.pop_front();
    if (!it.key.empty() && !it.done) {
      keys.insert(it.key);
      batch->keys.push_back(it.key);
    }
    if (const auto* l = LeasePut(it)) leases_[l->ip].fresh = false;
    ops += add_ops;
    bytes += add_bytes;
    batch->events = batch->events || (event && !it.done);
    batch->items.push_back(std::move(it));
    if (batch->items.back().done) break;
  }
  if (batch->items.empty()) return nullptr;
  return batch;
}

bool EtcdStoreWriter::DecideLeases(Batch& batch) {
  const auto now = NowUnix();
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<Ipv4Address> stale;
    for (auto& it : batch.items) {
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
      SettleRemaining(batch, Status(st.code(), "etcd store: " + st.message()));
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

bool EtcdStoreWriter::BuildTxn(Lane& lane, Batch& batch, pb::TxnRequest& txn) {
  bool writes = false;
  std::size_t events = 0;
  for (const auto& it : batch.items) events += !it.done && IsEvent(it);
  *txn.add_compare() = ModRevisionIs(lane.marker_key, lane.marker_mod);
  *txn.add_success() = PutOp(lane.marker_key, EncodeCounter(static_cast<std::int64_t>(batch.seq)));
  *txn.add_failure() = GetOp(lane.marker_key);
  if (events > 0) {
    *txn.add_compare() = ModRevisionIs(keys_.EventSeq(), event_seq_mod_);
    *txn.add_failure() = GetOp(keys_.EventSeq());
  }
  std::int64_t next_id = event_seq_last_ + 1;
  batch.first_event_id = next_id;
  // Events older than the newest max_events are pruned in this same
  // transaction; those of this batch below that line are never written (a
  // put inside the deleted range would be a duplicate key to etcd).
  const auto keep = static_cast<std::int64_t>(options_.max_events);
  const std::int64_t last_id = event_seq_last_ + static_cast<std::int64_t>(events);
  const std::int64_t cutoff = keep > 0 ? last_id - keep + 1 : 0;
  for (auto& it : batch.items) {
    if (it.done) continue;
    std::visit(Overloaded{
                   [&](const LeaseRecord& l) {
                     *txn.add_compare() = ModRevisionIs(it.key, leases_[l.ip].mod_revision);
                     *txn.add_success() = PutOp(it.key, it.value);
                     *txn.add_failure() = GetOp(it.key);
                     writes = true;
                   },
                   [&](const DeleteLeaseOp&) { *txn.add_success() = DeleteOp(it.key), writes = true; },
                   [&](const DeleteApplyTargetOp&) { *txn.add_success() = DeleteOp(it.key), writes = true; },
                   [&](const EventRecord&) {
                     const std::int64_t id = next_id++;
                     it.key = keys_.Event(id);
                     if (id >= cutoff) *txn.add_success() = PutOp(it.key, it.value);
                     writes = true;
                   },
                   [&](const BarrierOp&) {},
                   [&](const DeleteExpiredTokensOp&) {},
                   [&](const TrimTimelineOp&) {},
                   [&](const auto&) { *txn.add_success() = PutOp(it.key, it.value), writes = true; },
               },
               it.write.op);
  }
  if (events > 0) {
    *txn.add_success() = PutOp(keys_.EventSeq(), EncodeCounter(last_id));
    if (cutoff > 1)
      *txn.add_success() = DeleteOp(keys_.EventsPrefix(), keys_.Event(std::min(cutoff, batch.first_event_id)));
  }
  return writes;
}

bool EtcdStoreWriter::ReadBack(Lane& lane, const pb::TxnResponse& resp, const Batch& batch) {
  int index = 0;
  auto kv_at = [&](int i) -> const mvccpb::KeyValue* {
    if (i >= resp.responses_size()) return nullptr;
    const auto& kvs = resp.responses(i).response_range().kvs();
    return kvs.empty() ? nullptr : &kvs[0];
  };
  const auto* marker = kv_at(index++);
  lane.marker_mod = marker ? marker->mod_revision() : 0;
  const bool applied = marker && marker->value() == EncodeCounter(static_cast<std::int64_t>(batch.seq));
  bool events = false;
  for (const auto& it : batch.items) events = events || (!it.done && IsEvent(it));
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
  for (const auto& it : batch.items) {
    if (const auto* l = LeasePut(it); l != nullptr && !it.done) NoteLease(l->ip, kv_at(index++));
  }
  return applied;
}

void EtcdStoreWriter::Applied(Lane& lane, Batch& batch, std::int64_t revision, bool read_back) {
  std::uint64_t n = 0;
  std::int64_t last_event = batch.first_event_id - 1;
  for (auto& it : batch.items) {
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
    lane.marker_mod = revision;
    if (last_event >= batch.first_event_id) {
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

}  // namespace metalpxe::etcd
