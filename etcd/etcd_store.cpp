#include "etcd/etcd_store.h"

#include <future>
#include <limits>

#include "etcd/etcd_kv.h"

namespace metalpxe::etcd {
namespace {

constexpr std::int64_t kPage = 1000;

// Which key a value came from, for the error: the key names the record.
Status AtKey(const std::string& key, const Status& st) { return Status(st.code(), st.message() + " (key " + key + ")"); }

}  // namespace

Result<std::unique_ptr<EtcdStore>> EtcdStore::Open(std::shared_ptr<EtcdClient> client, std::string prefix,
                                                   EtcdStoreOptions options) {
  if (!client) return Status(ErrorCode::kInvalidArgument, "etcd store: no client");
  if (prefix.empty() || prefix.back() != '/')
    return Status(ErrorCode::kInvalidArgument, "etcd store: key prefix '" + prefix + "' must end with '/'");
  StoreKeys keys(std::move(prefix));
  auto writer = EtcdStoreWriter::Start(client, keys, std::move(options));
  if (!writer.ok()) return writer.status();
  return std::unique_ptr<EtcdStore>(new EtcdStore(std::move(client), std::move(keys), std::move(writer).value()));
}

EtcdStore::EtcdStore(std::shared_ptr<EtcdClient> client, StoreKeys keys, std::unique_ptr<EtcdStoreWriter> writer)
    : client_(std::move(client)), keys_(std::move(keys)), writer_(std::move(writer)) {}

EtcdStore::~EtcdStore() { writer_.reset(); }

Result<Secret> EtcdStore::CreateOnce(const std::string& name, const Secret& candidate) {
  const std::string key = keys_.Shared(name);
  // Expected mod revision 0: the key must not exist. A lost race (or a
  // repeat of our own applied attempt) answers with what the key holds.
  // Deleted in between (by hand): one more try, then give up.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto cas = CompareAndSwapSync(*client_, key, 0, candidate.Reveal());
    if (!cas.ok()) return Status(cas.status().code(), "etcd store: " + key + ": " + cas.status().message());
    if (cas->swapped) return candidate;
    if (cas->current) return Secret(std::string(cas->current->value()));
  }
  return Status(ErrorCode::kUnavailable, "etcd store: " + key + " keeps disappearing; is something deleting it?");
}

Result<SharedValues::Versioned> EtcdStore::Read(const std::string& name) {
  const std::string key = keys_.Shared(name);
  auto r = client_->RangeSync(GetRequest(key));
  if (!r.ok()) return Status(r.status().code(), "etcd store: " + key + ": " + r.status().message());
  Versioned out;
  if (r->kvs_size() > 0) {
    out.value = r->kvs(0).value();
    out.revision = r->kvs(0).mod_revision();
  }
  return out;
}

Result<bool> EtcdStore::Replace(const std::string& name, std::int64_t expected_revision, const std::string& value) {
  const std::string key = keys_.Shared(name);
  auto cas = CompareAndSwapSync(*client_, key, expected_revision, value);
  if (!cas.ok()) return Status(cas.status().code(), "etcd store: " + key + ": " + cas.status().message());
  return cas->swapped;
}

void EtcdStore::PutLease(const LeaseRecord& lease, DurableCallback done) {
  writer_->Submit({lease, std::move(done)});
}
void EtcdStore::DeleteLease(Ipv4Address ip, DurableCallback done) {
  writer_->Submit({DeleteLeaseOp{ip}, std::move(done)});
}
void EtcdStore::PutMachine(const MachineRecord& machine, DurableCallback done) {
  writer_->Submit({machine, std::move(done)});
}
void EtcdStore::PutToken(const TokenRecord& token, DurableCallback done) {
  writer_->Submit({token, std::move(done)});
}
void EtcdStore::DeleteExpiredTokens(std::int64_t now_unix, DurableCallback done) {
  writer_->Submit({DeleteExpiredTokensOp{now_unix}, std::move(done)});
}
void EtcdStore::PutCluster(const ClusterRecord& cluster, DurableCallback done) {
  writer_->Submit({cluster, std::move(done)});
}
void EtcdStore::PutUpgrade(const UpgradeRecord& upgrade, DurableCallback done) {
  writer_->Submit({upgrade, std::move(done)});
}
void EtcdStore::PutApplyTarget(const ApplyTargetRecord& target, DurableCallback done) {
  writer_->Submit({target, std::move(done)});
}
void EtcdStore::DeleteApplyTarget(const MacAddress& mac, DurableCallback done) {
  writer_->Submit({DeleteApplyTargetOp{mac}, std::move(done)});
}
void EtcdStore::AppendEvent(const EventRecord& event, DurableCallback done) {
  writer_->Submit({event, std::move(done)});
}

void EtcdStore::PutTimelineEntry(const TimelineEntry& entry, DurableCallback done) {
  writer_->Submit({entry, std::move(done)});
}
void EtcdStore::TrimTimeline(const MacAddress& mac, std::int64_t keep_from_seq, DurableCallback done) {
  writer_->Submit({TrimTimelineOp{mac, keep_from_seq}, std::move(done)});
}

template <typename T, typename Decode>
Result<std::vector<T>> EtcdStore::LoadAll(const std::string& prefix, Decode decode) {
  std::vector<T> out;
  pb::RangeRequest page = PrefixRequest(prefix, kPage);
  while (true) {
    auto r = client_->RangeSync(page);
    if (!r.ok()) return Status(r.status().code(), "etcd store: " + r.status().message());
    for (const auto& kv : r->kvs()) {
      auto v = decode(kv.key(), kv.value());
      if (!v.ok()) return AtKey(kv.key(), v.status());
      out.push_back(std::move(v).value());
    }
    if (!r->more() || r->kvs_size() == 0) return out;
    // Later pages at the first page's revision: one consistent snapshot.
    page.set_revision(r->header().revision());
    page.set_key(r->kvs(r->kvs_size() - 1).key() + '\0');
  }
}

Result<std::vector<LeaseRecord>> EtcdStore::LoadLeases() {
  return LoadAll<LeaseRecord>(keys_.LeasesPrefix(), [this](const std::string& key, const std::string& value) {
    auto l = DecodeLease(value);
    if (l.ok() && key != keys_.Lease(l->ip))
      return Result<LeaseRecord>(ErrorCode::kDataLoss, "etcd store: lease value is for " + l->ip.ToString());
    return l;
  });
}

Result<std::vector<MachineRecord>> EtcdStore::LoadMachines() {
  return LoadAll<MachineRecord>(keys_.MachinesPrefix(), [this](const std::string& key, const std::string& value) {
    auto m = DecodeMachine(value);
    if (m.ok() && key != keys_.Machine(m->mac))
      return Result<MachineRecord>(ErrorCode::kDataLoss, "etcd store: machine value is for " + m->mac.ToString());
    return m;
  });
}

Result<std::vector<TokenRecord>> EtcdStore::LoadTokens() {
  return LoadAll<TokenRecord>(keys_.TokensPrefix(), [this](const std::string& key, const std::string& value) {
    auto t = DecodeToken(value);
    if (t.ok() && key != keys_.Token(t->token_hash))
      return Result<TokenRecord>(ErrorCode::kDataLoss, "etcd store: token value does not match its key");
    return t;
  });
}

Result<std::vector<ClusterRecord>> EtcdStore::LoadClusters() {
  return LoadAll<ClusterRecord>(keys_.ClustersPrefix(), [this](const std::string& key, const std::string& value) {
    auto c = DecodeCluster(value);
    if (c.ok() && key != keys_.Cluster(c->name))
      return Result<ClusterRecord>(ErrorCode::kDataLoss, "etcd store: cluster value is for " + c->name);
    return c;
  });
}

Result<std::vector<UpgradeRecord>> EtcdStore::LoadUpgrades() {
  return LoadAll<UpgradeRecord>(keys_.UpgradesPrefix(), [this](const std::string& key, const std::string& value) {
    auto u = DecodeUpgrade(value);
    if (u.ok() && key != keys_.Upgrade(u->cluster))
      return Result<UpgradeRecord>(ErrorCode::kDataLoss, "etcd store: upgrade value is for " + u->cluster);
    return u;
  });
}

Result<std::vector<ApplyTargetRecord>> EtcdStore::LoadApplyTargets() {
  return LoadAll<ApplyTargetRecord>(keys_.ApplyTargetsPrefix(), [this](const std::string& key, const std::string& value) {
    auto t = DecodeApplyTarget(value);
    if (t.ok() && key != keys_.ApplyTarget(t->mac))
      return Result<ApplyTargetRecord>(ErrorCode::kDataLoss, "etcd store: apply target value is for " + t->mac.ToString());
    return t;
  });
}

Result<std::vector<EventRecord>> EtcdStore::LoadEvents(std::int64_t after_id, std::size_t limit) {
  if (limit == 0) return std::vector<EventRecord>{};
  pb::RangeRequest req;
  req.set_key(keys_.Event(after_id < 0 ? 0 : after_id + 1));
  req.set_range_end(PrefixEnd(keys_.EventsPrefix()));
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  req.set_limit(static_cast<std::int64_t>(limit > kMax ? kMax : limit));
  auto r = client_->RangeSync(req);
  if (!r.ok()) return Status(r.status().code(), "etcd store: " + r.status().message());
  std::vector<EventRecord> out;
  out.reserve(static_cast<std::size_t>(r->kvs_size()));
  for (const auto& kv : r->kvs()) {
    auto id = keys_.EventId(kv.key());
    if (!id) return Status(ErrorCode::kDataLoss, "etcd store: '" + kv.key() + "' is not an event key");
    auto e = DecodeEvent(*id, kv.value());
    if (!e.ok()) return AtKey(kv.key(), e.status());
    out.push_back(std::move(e).value());
  }
  return out;
}

Result<std::vector<TimelineEntry>> EtcdStore::LoadTimeline(const MacAddress& mac, std::size_t limit) {
  if (limit == 0) return std::vector<TimelineEntry>{};
  // Newest first from etcd (descending keys), returned oldest first.
  const std::string prefix = keys_.TimelinePrefix(mac);
  pb::RangeRequest req = PrefixRequest(prefix, 0);
  req.set_sort_order(pb::RangeRequest::DESCEND);
  req.set_sort_target(pb::RangeRequest::KEY);
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  req.set_limit(static_cast<std::int64_t>(limit > kMax ? kMax : limit));
  auto r = client_->RangeSync(req);
  if (!r.ok()) return Status(r.status().code(), "etcd store: " + r.status().message());
  std::vector<TimelineEntry> out;
  out.reserve(static_cast<std::size_t>(r->kvs_size()));
  for (int i = r->kvs_size() - 1; i >= 0; --i) {
    const auto& kv = r->kvs(i);
    auto seq = keys_.TimelineSeq(mac, kv.key());
    if (!seq) return Status(ErrorCode::kDataLoss, "etcd store: '" + kv.key() + "' is not a timeline key");
    auto e = DecodeTimelineEntry(mac, *seq, kv.value());
    if (!e.ok()) return AtKey(kv.key(), e.status());
    out.push_back(std::move(e).value());
  }
  return out;
}

Status EtcdStore::Flush() {
  if (writer_->OnWriterThread())
    return Status(ErrorCode::kFailedPrecondition, "store: Flush() called from a write callback would deadlock");
  auto done = std::make_shared<std::promise<Status>>();
  auto result = done->get_future();
  writer_->Submit({BarrierOp{}, [done](const Status& st) { done->set_value(st); }});
  return result.get();
}

}  // namespace metalpxe::etcd
