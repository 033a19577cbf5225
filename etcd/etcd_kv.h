#pragma once
// Building blocks for etcd requests, and compare-and-swap over them: the
// pieces EtcdStore, the election and tests put their transactions together
// from, so each reads as what it checks and what it writes.
#include <cstdint>
#include <optional>
#include <string>

#include "etcd/etcd_client.h"

namespace metalpxe::etcd {

// Compares. A missing key has version, create and mod revision 0.
pb::Compare ModRevisionIs(const std::string& key, std::int64_t revision);
pb::Compare CreateRevisionIs(const std::string& key, std::int64_t revision);
pb::Compare VersionIs(const std::string& key, std::int64_t version);
pb::Compare ValueIs(const std::string& key, const std::string& value);

// Operations inside a transaction.
pb::RequestOp PutOp(const std::string& key, const std::string& value, std::int64_t lease = 0);
pb::RequestOp DeleteOp(const std::string& key, const std::string& range_end = "");
pb::RequestOp GetOp(const std::string& key, const std::string& range_end = "");

pb::RangeRequest GetRequest(const std::string& key);
pb::RangeRequest PrefixRequest(const std::string& prefix, std::int64_t limit = 0);

// Compare-and-swap of one key: writes `value` only if the key's mod_revision
// is still `expected_mod_revision` (0: the key must not exist). On a lost
// race, `current` is what the key holds now (absent when deleted), so the
// caller can decide again without another read.
struct CasResult {
  bool swapped = false;
  std::int64_t revision = 0;                   // the store's revision after the call
  std::optional<mvccpb::KeyValue> current;     // set when !swapped and the key exists
};
pb::TxnRequest CasRequest(const std::string& key, std::int64_t expected_mod_revision, const std::string& value,
                          std::int64_t lease = 0);
CasResult ParseCasResponse(const pb::TxnResponse& resp);
void CompareAndSwap(EtcdClient& client, const std::string& key, std::int64_t expected_mod_revision,
                    const std::string& value, Callback<CasResult> done, std::int64_t lease = 0);
Result<CasResult> CompareAndSwapSync(EtcdClient& client, const std::string& key, std::int64_t expected_mod_revision,
                                     const std::string& value, std::int64_t lease = 0);

}  // namespace metalpxe::etcd
