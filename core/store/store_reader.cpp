#include "core/store/store_reader.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "core/store/store_ops.h"

namespace metalpxe {
namespace {

// Rows are only ever written by StoreWriter, so a value that does not parse
// means the file was edited or damaged: say which row and column.
Status BadRow(std::string_view table, const std::string& key, std::string_view column, const std::string& value) {
  return Status(ErrorCode::kDataLoss, "store: " + std::string(table) + " row '" + key + "' has an invalid " +
                                          std::string(column) + " '" + value + "'");
}

// Runs a prepared query and decodes each row with `decode`, which returns
// an error Status to stop. The statement is reset whatever happens.
template <typename T, typename Decode>
Result<std::vector<T>> Collect(SqliteStatement& stmt, Decode decode) {
  std::vector<T> out;
  while (true) {
    auto row = stmt.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    T value{};
    if (auto st = decode(stmt, value); !st.ok()) {
      stmt.Reset();
      return st;
    }
    out.push_back(std::move(value));
  }
  stmt.Reset();
  return out;
}

}  // namespace

Result<std::unique_ptr<StoreReader>> StoreReader::Open(SqliteDb db) {
  Statements s;
  struct {
    SqliteStatement* into;
    const char* sql;
  } const prepare[] = {
      {&s.leases, "SELECT ip, mac, client_id, expires, hostname, kind FROM leases ORDER BY ip"},
      {&s.machines,
       "SELECT mac, name, state, reason, uuid, arch, vendor_class, serial, last_ip, first_seen, last_seen, "
       "state_changed FROM machines ORDER BY mac"},
      {&s.tokens,
       "SELECT token_hash, mac, bound_ip, issued, expires, max_fetches, fetches FROM tokens ORDER BY token_hash"},
      {&s.clusters, "SELECT name, bootstrap, node, reason, attempts, changed FROM clusters ORDER BY name"},
      {&s.upgrades,
       "SELECT cluster, version, schematic, state, node, node_since_ms, done, reason, changed, pinned_version, "
       "pinned_schematic FROM upgrades "
       "ORDER BY cluster"},
      {&s.apply_targets, "SELECT mac, machine, address, since FROM apply_targets ORDER BY mac"},
      {&s.events, "SELECT id, time_ms, machine, kind, message FROM events WHERE id > ?1 ORDER BY id LIMIT ?2"},
      // The newest ?2, returned oldest first.
      {&s.timeline,
       "SELECT seq, time_ms, source, summary, details, repeats, last_ms FROM (SELECT * FROM timeline WHERE mac = ?1 "
       "ORDER BY seq DESC LIMIT ?2) ORDER BY seq"},
  };
  for (const auto& p : prepare) {
    auto stmt = db.Prepare(p.sql);
    if (!stmt.ok()) return stmt.status();
    *p.into = std::move(stmt).value();
  }
  return std::unique_ptr<StoreReader>(new StoreReader(std::move(db), std::move(s)));
}

Result<std::vector<LeaseRecord>> StoreReader::LoadLeases() {
  std::lock_guard lock(mu_);
  return Collect<LeaseRecord>(stmts_.leases, [](const SqliteStatement& r, LeaseRecord& l) {
    const std::string ip = r.ColumnText(0);
    auto parsed_ip = Ipv4Address::Parse(ip);
    if (!parsed_ip) return BadRow("leases", ip, "ip", ip);
    auto mac = MacAddress::Parse(r.ColumnText(1));
    if (!mac) return BadRow("leases", ip, "mac", r.ColumnText(1));
    auto kind = ParseLeaseKind(r.ColumnText(5));
    if (!kind) return BadRow("leases", ip, "kind", r.ColumnText(5));
    l.ip = *parsed_ip;
    l.mac = *mac;
    l.client_id = r.ColumnText(2);
    l.expires_unix = r.ColumnInt(3);
    l.hostname = r.ColumnText(4);
    l.kind = *kind;
    return Status::Ok();
  });
}

Result<std::vector<MachineRecord>> StoreReader::LoadMachines() {
  std::lock_guard lock(mu_);
  return Collect<MachineRecord>(stmts_.machines, [](const SqliteStatement& r, MachineRecord& m) {
    const std::string key = r.ColumnText(0);
    auto mac = MacAddress::Parse(key);
    if (!mac) return BadRow("machines", key, "mac", key);
    auto state = ParseMachineState(r.ColumnText(2));
    if (!state) return BadRow("machines", key, "state", r.ColumnText(2));
    auto last_ip = Ipv4Address::Parse(r.ColumnText(8));
    if (!last_ip) return BadRow("machines", key, "last_ip", r.ColumnText(8));
    m.mac = *mac;
    m.name = r.ColumnText(1);
    m.state = *state;
    m.reason = r.ColumnText(3);
    m.uuid = r.ColumnText(4);
    m.arch = r.ColumnText(5);
    m.vendor_class = r.ColumnText(6);
    m.serial = r.ColumnText(7);
    m.last_ip = *last_ip;
    m.first_seen_unix = r.ColumnInt(9);
    m.last_seen_unix = r.ColumnInt(10);
    m.state_changed_unix = r.ColumnInt(11);
    return Status::Ok();
  });
}

Result<std::vector<TokenRecord>> StoreReader::LoadTokens() {
  std::lock_guard lock(mu_);
  return Collect<TokenRecord>(stmts_.tokens, [](const SqliteStatement& r, TokenRecord& t) {
    t.token_hash = r.ColumnText(0);
    // The hash is not secret, but keep row keys short in messages anyway.
    const std::string key = t.token_hash.substr(0, 12);
    auto mac = MacAddress::Parse(r.ColumnText(1));
    if (!mac) return BadRow("tokens", key, "mac", r.ColumnText(1));
    t.mac = *mac;
    if (!r.ColumnIsNull(2)) {
      auto ip = Ipv4Address::Parse(r.ColumnText(2));
      if (!ip) return BadRow("tokens", key, "bound_ip", r.ColumnText(2));
      t.bound_ip = *ip;
    }
    t.issued_unix = r.ColumnInt(3);
    t.expires_unix = r.ColumnInt(4);
    t.max_fetches = static_cast<int>(r.ColumnInt(5));
    t.fetches = static_cast<int>(r.ColumnInt(6));
    return Status::Ok();
  });
}

Result<std::vector<ClusterRecord>> StoreReader::LoadClusters() {
  std::lock_guard lock(mu_);
  return Collect<ClusterRecord>(stmts_.clusters, [](const SqliteStatement& r, ClusterRecord& c) {
    c.name = r.ColumnText(0);
    auto state = ParseClusterBootstrapState(r.ColumnText(1));
    if (!state) return BadRow("clusters", c.name, "bootstrap", r.ColumnText(1));
    const std::int64_t attempts = r.ColumnInt(4);
    if (attempts < 0 || attempts > 1'000'000) return BadRow("clusters", c.name, "attempts", std::to_string(attempts));
    c.bootstrap = *state;
    c.node = r.ColumnText(2);
    c.reason = r.ColumnText(3);
    c.attempts = static_cast<int>(attempts);
    c.changed_unix = r.ColumnInt(5);
    return Status::Ok();
  });
}

Result<std::vector<UpgradeRecord>> StoreReader::LoadUpgrades() {
  std::lock_guard lock(mu_);
  return Collect<UpgradeRecord>(stmts_.upgrades, [](const SqliteStatement& r, UpgradeRecord& u) {
    u.cluster = r.ColumnText(0);
    auto state = ParseUpgradeRunState(r.ColumnText(3));
    if (!state) return BadRow("upgrades", u.cluster, "state", r.ColumnText(3));
    u.version = r.ColumnText(1);
    u.schematic = r.ColumnText(2);
    u.state = *state;
    u.node = r.ColumnText(4);
    u.node_since_ms = r.ColumnInt(5);
    // The nodes on the target, one name a line (names carry no newline).
    std::string done = r.ColumnText(6);
    for (std::size_t at = 0; at < done.size();) {
      const auto nl = std::min(done.find('\n', at), done.size());
      if (nl > at) u.done.push_back(done.substr(at, nl - at));
      at = nl + 1;
    }
    u.reason = r.ColumnText(7);
    u.changed_unix = r.ColumnInt(8);
    u.pinned_version = r.ColumnText(9);
    u.pinned_schematic = r.ColumnText(10);
    return Status::Ok();
  });
}

Result<std::vector<ApplyTargetRecord>> StoreReader::LoadApplyTargets() {
  std::lock_guard lock(mu_);
  return Collect<ApplyTargetRecord>(stmts_.apply_targets, [](const SqliteStatement& r, ApplyTargetRecord& t) {
    const std::string key = r.ColumnText(0);
    auto mac = MacAddress::Parse(key);
    if (!mac) return BadRow("apply_targets", key, "mac", key);
    auto address = Ipv4Address::Parse(r.ColumnText(2));
    if (!address) return BadRow("apply_targets", key, "address", r.ColumnText(2));
    t.mac = *mac;
    t.machine = r.ColumnText(1);
    t.address = *address;
    t.since_unix = r.ColumnInt(3);
    return Status::Ok();
  });
}

Result<std::vector<EventRecord>> StoreReader::LoadEvents(std::int64_t after_id, std::size_t limit) {
  std::lock_guard lock(mu_);
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  stmts_.events.BindInt(1, after_id);
  stmts_.events.BindInt(2, static_cast<std::int64_t>(limit > kMax ? kMax : limit));
  return Collect<EventRecord>(stmts_.events, [](const SqliteStatement& r, EventRecord& e) {
    e.id = r.ColumnInt(0);
    e.time_unix_ms = r.ColumnInt(1);
    e.machine = r.ColumnText(2);
    e.kind = r.ColumnText(3);
    e.message = r.ColumnText(4);
    return Status::Ok();
  });
}

Result<std::vector<TimelineEntry>> StoreReader::LoadTimeline(const MacAddress& mac, std::size_t limit) {
  std::lock_guard lock(mu_);
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  const std::string key = mac.ToString();
  stmts_.timeline.BindText(1, key);
  stmts_.timeline.BindInt(2, static_cast<std::int64_t>(limit > kMax ? kMax : limit));
  return Collect<TimelineEntry>(stmts_.timeline, [&](const SqliteStatement& r, TimelineEntry& e) {
    auto source = ParseTimelineSource(r.ColumnText(2));
    if (!source) return BadRow("timeline", key, "source", r.ColumnText(2));
    e.mac = mac;
    e.seq = r.ColumnInt(0);
    e.time_unix_ms = r.ColumnInt(1);
    e.source = *source;
    e.summary = r.ColumnText(3);
    e.details = r.ColumnText(4);
    const auto repeats = r.ColumnInt(5);
    if (repeats < 0 || repeats > std::numeric_limits<std::uint32_t>::max())
      return BadRow("timeline", key, "repeats", std::to_string(repeats));
    e.repeats = static_cast<std::uint32_t>(repeats);
    e.last_unix_ms = r.ColumnInt(6);
    return Status::Ok();
  });
}

}  // namespace metalpxe
