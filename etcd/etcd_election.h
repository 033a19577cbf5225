#pragma once
// EtcdElection: leader election on one etcd key, so that of several
// appliances exactly one is active for a thing (a served DHCP subnet) and
// the others stand by, taking over when the active one stops.
//
// A candidate holds an etcd lease with a short TTL, kept alive by
// EtcdKeepAlive, and tries to create the key bound to that lease in a
// transaction that succeeds only while the key does not exist
// (create_revision == 0). Whoever created it leads; the others watch the key
// and try again when it is deleted: by resignation, or by etcd when the
// leader's lease expires because its process died or lost etcd. A leader
// steps down (on_change with leader=false) as soon as it cannot prove its
// lease alive (EtcdKeepAlive's conservative clock) or sees its key deleted,
// so it stops acting before anyone else can have been elected; it then
// revokes the lease it gave up (best effort), so a key whose keep-alives
// were merely late is free at once rather than after the TTL.
//
// The leader key's create revision is the term: it grows with every new
// leader, so writes fenced with it (compare CREATE == term) cannot come from
// a leader that has been replaced.
//
// on_change runs on the client's io thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "etcd/etcd_client.h"

namespace metalpxe::etcd {

struct ElectionOptions {
  std::string key;                 // e.g. "<prefix>leaders/dhcp/10.66.0.0-24" (ElectionKey)
  std::string candidate;           // our name, the key's value while we lead
  std::int64_t ttl_seconds = 3;    // lease TTL: the longest a dead leader blocks the key
  std::chrono::milliseconds retry_delay{500};  // after a failed grant or campaign
};

struct ElectionStatus {
  bool leader = false;
  std::string leader_name;         // the holder last seen; "" when none is known
  std::int64_t term = 0;           // create revision of the leader key; 0 when none
};

// The key used for "one active appliance per served subnet".
std::string DhcpSubnetElectionKey(const std::string& prefix, const std::string& subnet_cidr);

class EtcdElection {
 public:
  static std::unique_ptr<EtcdElection> Start(std::shared_ptr<EtcdClient> client, ElectionOptions options,
                                             std::function<void(const ElectionStatus&)> on_change);
  // Resigns: stops campaigning and revokes the lease (which deletes the key
  // if we held it), waiting at most the client's call timeout for that.
  // Once it returns on_change does not run.
  ~EtcdElection();
  EtcdElection(const EtcdElection&) = delete;
  EtcdElection& operator=(const EtcdElection&) = delete;

  ElectionStatus status() const;  // thread-safe snapshot

  struct Core;

 private:
  EtcdElection(std::shared_ptr<EtcdClient> client, std::shared_ptr<Core> core);
  std::shared_ptr<EtcdClient> client_;
  std::shared_ptr<Core> core_;
};

}  // namespace metalpxe::etcd
