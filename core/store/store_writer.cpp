#include "core/store/store_writer.h"

#include <chrono>
#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/lease_ownership.h"

namespace metalpxe {
namespace {

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

std::int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void RunCallback(const DurableCallback& done, const Status& st) {
  if (!done) return;
  // A throwing callback must not take the writer thread (and every later
  // write) down with it.
  try {
    done(st);
  } catch (const std::exception& e) {
    spdlog::error("store: a write callback threw: {}", e.what());
  } catch (...) {
    spdlog::error("store: a write callback threw a non-exception");
  }
}

}  // namespace

Result<std::unique_ptr<StoreWriter>> StoreWriter::Start(SqliteDb db, std::size_t max_events) {
  Statements s;
  struct {
    SqliteStatement* into;
    const char* sql;
  } const prepare[] = {
      {&s.begin, "BEGIN IMMEDIATE"},
      {&s.commit, "COMMIT"},
      {&s.rollback, "ROLLBACK"},
      {&s.get_lease, "SELECT mac, expires, kind FROM leases WHERE ip = ?1"},
      {&s.put_lease,
       "INSERT INTO leases (ip, mac, client_id, expires, hostname, kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
       "ON CONFLICT(ip) DO UPDATE SET mac = ?2, client_id = ?3, expires = ?4, hostname = ?5, kind = ?6"},
      {&s.delete_lease, "DELETE FROM leases WHERE ip = ?1"},
      {&s.put_machine,
       "INSERT INTO machines (mac, name, state, reason, uuid, arch, vendor_class, serial, last_ip, first_seen, "
       "last_seen, state_changed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
       "ON CONFLICT(mac) DO UPDATE SET name = ?2, state = ?3, reason = ?4, uuid = ?5, arch = ?6, "
       "vendor_class = ?7, serial = ?8, last_ip = ?9, first_seen = ?10, last_seen = ?11, state_changed = ?12"},
      {&s.put_token,
       "INSERT INTO tokens (token_hash, mac, bound_ip, issued, expires, max_fetches, fetches) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(token_hash) DO UPDATE SET mac = ?2, bound_ip = ?3, "
       "issued = ?4, expires = ?5, max_fetches = ?6, fetches = ?7"},
      {&s.delete_expired_tokens, "DELETE FROM tokens WHERE expires <= ?1"},
      {&s.put_cluster,
       "INSERT INTO clusters (name, bootstrap, node, reason, attempts, changed) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
       "ON CONFLICT(name) DO UPDATE SET bootstrap = ?2, node = ?3, reason = ?4, attempts = ?5, changed = ?6"},
      {&s.put_upgrade,
       "INSERT INTO upgrades (cluster, version, schematic, state, node, node_since_ms, done, reason, changed, "
       "pinned_version, pinned_schematic) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
       "ON CONFLICT(cluster) DO UPDATE SET version = ?2, schematic = ?3, state = ?4, node = ?5, "
       "node_since_ms = ?6, done = ?7, reason = ?8, changed = ?9, pinned_version = ?10, pinned_schematic = ?11"},
      {&s.append_event, "INSERT INTO events (time_ms, machine, kind, message) VALUES (?1, ?2, ?3, ?4)"},
      // Ids only grow (AUTOINCREMENT), so "the newest max_events" is an id range.
      {&s.prune_events, "DELETE FROM events WHERE id <= (SELECT max(id) FROM events) - ?1"},
      {&s.put_timeline,
       "INSERT INTO timeline (mac, seq, time_ms, source, summary, details, repeats, last_ms) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(mac, seq) DO UPDATE SET time_ms = ?3, source = ?4, "
       "summary = ?5, details = ?6, repeats = ?7, last_ms = ?8"},
      {&s.trim_timeline, "DELETE FROM timeline WHERE mac = ?1 AND seq < ?2"},
      {&s.put_apply_target,
       "INSERT INTO apply_targets (mac, machine, address, since) VALUES (?1, ?2, ?3, ?4) "
       "ON CONFLICT(mac) DO UPDATE SET machine = ?2, address = ?3, since = ?4"},
      {&s.delete_apply_target, "DELETE FROM apply_targets WHERE mac = ?1"},
  };
  for (const auto& p : prepare) {
    auto stmt = db.Prepare(p.sql);
    if (!stmt.ok()) return stmt.status();
    *p.into = std::move(stmt).value();
  }
  return std::unique_ptr<StoreWriter>(new StoreWriter(std::move(db), std::move(s), max_events));
}

StoreWriter::StoreWriter(SqliteDb db, Statements stmts, std::size_t max_events)
    : db_(std::move(db)), stmts_(std::move(stmts)), max_events_(max_events), thread_([this] { Run(); }) {}

StoreWriter::~StoreWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void StoreWriter::Submit(PendingWrite write) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(write));
  }
  wake_.notify_one();
}

StoreWriterStats StoreWriter::Stats() const {
  return {commits_.load(), writes_.load(), failed_writes_.load(), largest_batch_.load()};
}

void StoreWriter::Run() {
  std::vector<PendingWrite> batch;
  std::vector<Status> results;
  while (true) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      // Stop only once drained: the destructor promises to flush.
      if (queue_.empty()) return;
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
    }
    ApplyBatch(batch, results);
    for (std::size_t i = 0; i < batch.size(); ++i) RunCallback(batch[i].done, results[i]);
    batch.clear();
  }
}

void StoreWriter::ApplyBatch(std::vector<PendingWrite>& batch, std::vector<Status>& results) {
  results.assign(batch.size(), Status::Ok());
  auto fail_all = [&](const Status& st) {
    for (auto& r : results) r = st;
    failed_writes_ += batch.size();
  };
  if (auto st = stmts_.begin.Run(); !st.ok()) {
    fail_all(Status(st.code(), "store: cannot begin a transaction: " + st.message()));
    return;
  }
  bool any_event = false;
  std::uint64_t failed_here = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    any_event = any_event || std::holds_alternative<EventRecord>(batch[i].op);
    results[i] = Apply(batch[i].op);
    if (!results[i].ok()) {
      ++failed_here;
      // A failed statement normally undoes only itself (the others stay in
      // the transaction), but I/O errors, a full disk or corruption make
      // SQLite roll the whole transaction back: then nothing here is stored.
      if (!db_.InTransaction()) {
        fail_all(results[i]);
        return;
      }
    }
  }
  if (any_event && max_events_ > 0) {
    stmts_.prune_events.BindInt(1, static_cast<std::int64_t>(max_events_));
    if (auto st = stmts_.prune_events.Run(); !st.ok()) {
      // Not fatal: the table is only over its cap until the next prune.
      spdlog::warn("store: pruning old events failed: {}", st.message());
      if (!db_.InTransaction()) {
        fail_all(st);
        return;
      }
    }
  }
  if (auto st = stmts_.commit.Run(); !st.ok()) {
    if (db_.InTransaction()) (void)stmts_.rollback.Run();
    fail_all(Status(st.code(), "store: commit failed: " + st.message()));
    return;
  }
  ++commits_;
  failed_writes_ += failed_here;
  writes_ += batch.size() - failed_here;
  std::uint64_t prev = largest_batch_.load();
  while (batch.size() > prev && !largest_batch_.compare_exchange_weak(prev, batch.size())) {
  }
}

Status StoreWriter::Apply(const StoreOp& op) {
  return std::visit(
      Overloaded{
          [&](const LeaseRecord& l) { return PutLease(l); },
          [&](const DeleteLeaseOp& d) {
            stmts_.delete_lease.BindText(1, d.ip.ToString());
            return stmts_.delete_lease.Run();
          },
          [&](const MachineRecord& m) {
            auto& s = stmts_.put_machine;
            s.BindText(1, m.mac.ToString());
            s.BindText(2, m.name);
            s.BindText(3, MachineStateName(m.state));
            s.BindText(4, m.reason);
            s.BindText(5, m.uuid);
            s.BindText(6, m.arch);
            s.BindText(7, m.vendor_class);
            s.BindText(8, m.serial);
            s.BindText(9, m.last_ip.ToString());
            s.BindInt(10, m.first_seen_unix);
            s.BindInt(11, m.last_seen_unix);
            s.BindInt(12, m.state_changed_unix);
            return s.Run();
          },
          [&](const TokenRecord& t) {
            auto& s = stmts_.put_token;
            s.BindText(1, t.token_hash);
            s.BindText(2, t.mac.ToString());
            if (t.bound_ip) {
              s.BindText(3, t.bound_ip->ToString());
            } else {
              s.BindNull(3);
            }
            s.BindInt(4, t.issued_unix);
            s.BindInt(5, t.expires_unix);
            s.BindInt(6, t.max_fetches);
            s.BindInt(7, t.fetches);
            return s.Run();
          },
          [&](const DeleteExpiredTokensOp& d) {
            stmts_.delete_expired_tokens.BindInt(1, d.now_unix);
            return stmts_.delete_expired_tokens.Run();
          },
          [&](const EventRecord& e) {
            auto& s = stmts_.append_event;
            s.BindInt(1, e.time_unix_ms != 0 ? e.time_unix_ms : NowUnixMs());
            s.BindText(2, e.machine);
            s.BindText(3, e.kind);
            s.BindText(4, e.message);
            return s.Run();
          },
          [&](const ClusterRecord& c) {
            auto& s = stmts_.put_cluster;
            s.BindText(1, c.name);
            s.BindText(2, ClusterBootstrapStateName(c.bootstrap));
            s.BindText(3, c.node);
            s.BindText(4, c.reason);
            s.BindInt(5, c.attempts);
            s.BindInt(6, c.changed_unix);
            return s.Run();
          },
          [&](const UpgradeRecord& u) {
            std::string done;
            for (const auto& n : u.done) done += (done.empty() ? "" : "\n") + n;
            auto& s = stmts_.put_upgrade;
            s.BindText(1, u.cluster);
            s.BindText(2, u.version);
            s.BindText(3, u.schematic);
            s.BindText(4, UpgradeRunStateName(u.state));
            s.BindText(5, u.node);
            s.BindInt(6, u.node_since_ms);
            s.BindText(7, done);
            s.BindText(8, u.reason);
            s.BindInt(9, u.changed_unix);
            s.BindText(10, u.pinned_version);
            s.BindText(11, u.pinned_schematic);
            return s.Run();
          },
          [&](const TimelineEntry& e) {
            auto& s = stmts_.put_timeline;
            s.BindText(1, e.mac.ToString());
            s.BindInt(2, e.seq);
            s.BindInt(3, e.time_unix_ms != 0 ? e.time_unix_ms : NowUnixMs());
            s.BindText(4, TimelineSourceName(e.source));
            s.BindText(5, e.summary);
            s.BindText(6, e.details);
            s.BindInt(7, e.repeats);
            s.BindInt(8, e.last_unix_ms);
            return s.Run();
          },
          [&](const TrimTimelineOp& t) {
            stmts_.trim_timeline.BindText(1, t.mac.ToString());
            stmts_.trim_timeline.BindInt(2, t.keep_from_seq);
            return stmts_.trim_timeline.Run();
          },
          [&](const ApplyTargetRecord& t) {
            auto& s = stmts_.put_apply_target;
            s.BindText(1, t.mac.ToString());
            s.BindText(2, t.machine);
            s.BindText(3, t.address.ToString());
            s.BindInt(4, t.since_unix);
            return s.Run();
          },
          [&](const DeleteApplyTargetOp& d) {
            stmts_.delete_apply_target.BindText(1, d.mac.ToString());
            return stmts_.delete_apply_target.Run();
          },
          [&](const BarrierOp&) { return Status::Ok(); },
      },
      op);
}

// The row the write would replace is read in the same transaction (the
// writer is the only one writing), so the ownership check and the write are
// atomic.
Status StoreWriter::PutLease(const LeaseRecord& l) {
  auto& get = stmts_.get_lease;
  get.BindText(1, l.ip.ToString());
  auto row = get.Step();
  if (!row.ok()) {
    get.Reset();
    return row.status();
  }
  std::optional<LeaseRecord> stored;
  if (*row) {
    auto mac = MacAddress::Parse(get.ColumnText(0));
    auto kind = ParseLeaseKind(get.ColumnText(2));
    // A damaged row is replaced rather than allowed to block the address forever.
    if (mac && kind) stored = LeaseRecord{l.ip, *mac, "", get.ColumnInt(1), "", *kind};
  }
  get.Reset();
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  if (auto conflict = LeaseWriteConflict(stored ? &*stored : nullptr, l, now))
    return Status(ErrorCode::kAlreadyExists, "store: " + *conflict);
  auto& s = stmts_.put_lease;
  s.BindText(1, l.ip.ToString());
  s.BindText(2, l.mac.ToString());
  s.BindText(3, l.client_id);
  s.BindInt(4, l.expires_unix);
  s.BindText(5, l.hostname);
  s.BindText(6, LeaseKindName(l.kind));
  return s.Run();
}

}  // namespace metalpxe
