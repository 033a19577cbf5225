#include "etcd/etcd_kv.h"

namespace metalpxe::etcd {
namespace {

pb::Compare Base(const std::string& key, pb::Compare::CompareTarget target) {
  pb::Compare c;
  c.set_key(key);
  c.set_target(target);
  c.set_result(pb::Compare::EQUAL);
  return c;
}

}  // namespace

pb::Compare ModRevisionIs(const std::string& key, std::int64_t revision) {
  auto c = Base(key, pb::Compare::MOD);
  c.set_mod_revision(revision);
  return c;
}
pb::Compare CreateRevisionIs(const std::string& key, std::int64_t revision) {
  auto c = Base(key, pb::Compare::CREATE);
  c.set_create_revision(revision);
  return c;
}
pb::Compare VersionIs(const std::string& key, std::int64_t version) {
  auto c = Base(key, pb::Compare::VERSION);
  c.set_version(version);
  return c;
}
pb::Compare ValueIs(const std::string& key, const std::string& value) {
  auto c = Base(key, pb::Compare::VALUE);
  c.set_value(value);
  return c;
}

pb::RequestOp PutOp(const std::string& key, const std::string& value, std::int64_t lease) {
  pb::RequestOp op;
  auto* put = op.mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(lease);
  return op;
}
pb::RequestOp DeleteOp(const std::string& key, const std::string& range_end) {
  pb::RequestOp op;
  op.mutable_request_delete_range()->set_key(key);
  op.mutable_request_delete_range()->set_range_end(range_end);
  return op;
}
pb::RequestOp GetOp(const std::string& key, const std::string& range_end) {
  pb::RequestOp op;
  op.mutable_request_range()->set_key(key);
  op.mutable_request_range()->set_range_end(range_end);
  return op;
}

pb::RangeRequest GetRequest(const std::string& key) {
  pb::RangeRequest r;
  r.set_key(key);
  return r;
}
pb::RangeRequest PrefixRequest(const std::string& prefix, std::int64_t limit) {
  pb::RangeRequest r;
  r.set_key(prefix);
  r.set_range_end(PrefixEnd(prefix));
  r.set_limit(limit);
  return r;
}

pb::TxnRequest CasRequest(const std::string& key, std::int64_t expected_mod_revision, const std::string& value,
                          std::int64_t lease) {
  pb::TxnRequest txn;
  *txn.add_compare() = ModRevisionIs(key, expected_mod_revision);
  *txn.add_success() = PutOp(key, value, lease);
  *txn.add_failure() = GetOp(key);
  return txn;
}

CasResult ParseCasResponse(const pb::TxnResponse& resp) {
  CasResult r;
  r.swapped = resp.succeeded();
  r.revision = resp.header().revision();
  if (!r.swapped && resp.responses_size() == 1 && resp.responses(0).has_response_range() &&
      resp.responses(0).response_range().kvs_size() > 0)
    r.current = resp.responses(0).response_range().kvs(0);
  return r;
}

void CompareAndSwap(EtcdClient& client, const std::string& key, std::int64_t expected_mod_revision,
                    const std::string& value, Callback<CasResult> done, std::int64_t lease) {
  // Repeat-safe: a repeat after a lost answer fails its compare (the first
  // attempt moved the revision) and reports the value that attempt wrote.
  CallOptions o;
  o.repeat_safe = true;
  client.Txn(CasRequest(key, expected_mod_revision, value, lease),
             [done = std::move(done)](Result<pb::TxnResponse> r) {
               if (!r.ok()) return done(r.status());
               done(ParseCasResponse(*r));
             },
             o);
}

Result<CasResult> CompareAndSwapSync(EtcdClient& client, const std::string& key, std::int64_t expected_mod_revision,
                                     const std::string& value, std::int64_t lease) {
  CallOptions o;
  o.repeat_safe = true;
  auto r = client.TxnSync(CasRequest(key, expected_mod_revision, value, lease), o);
  if (!r.ok()) return r.status();
  return ParseCasResponse(*r);
}

}  // namespace metalpxe::etcd
