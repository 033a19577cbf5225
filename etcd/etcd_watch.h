#pragma once
// EtcdWatch: a watch on a key or a range that survives its stream. When the
// stream breaks (member killed, no leader, connection lost) it is opened
// again on the next endpoint from the revision after the last one
// delivered, so no change is missed or seen twice. When those revisions were
// compacted away it stops and says so (on_compacted): the owner lists the
// range again and starts a new watch from that listing's revision + 1.
//
// Handlers run on the client's io thread, one at a time, in revision order.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "etcd/etcd_client.h"

namespace metalpxe::etcd {

struct WatchOptions {
  std::string key;
  std::string range_end;            // "" = just `key`; PrefixEnd(key) for a prefix
  std::int64_t start_revision = 0;  // 0 = changes after the watch is created
  bool prev_kv = false;             // events carry the value before the change
};

struct WatchHandler {
  // A batch of events; `revision` is the store revision the watch has seen up to.
  std::function<void(const std::vector<mvccpb::Event>& events, std::int64_t revision)> on_events;
  // The watch has stopped: the revision it needed was compacted.
  std::function<void(std::int64_t compact_revision)> on_compacted;
  // Optional: the stream broke and is being opened again (for logs).
  std::function<void(const Status& why)> on_interrupted;
  // Optional: the server confirmed the watch (first time and after every resume).
  std::function<void()> on_created;
};

class EtcdWatch {
 public:
  static std::unique_ptr<EtcdWatch> Start(std::shared_ptr<EtcdClient> client, WatchOptions options,
                                          WatchHandler handler);
  // Stops the watch; once it returns no handler runs (safe in a handler).
  ~EtcdWatch();
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

  // The revision a resume would start from (last delivered + 1). Thread-safe.
  std::int64_t next_revision() const;
  // Streams opened after the first (resumes). Thread-safe.
  int resumes() const;

  struct Core;

 private:
  EtcdWatch(std::shared_ptr<EtcdClient> client, std::shared_ptr<Core> core);
  std::shared_ptr<EtcdClient> client_;  // outlives the core's use of it
  std::shared_ptr<Core> core_;
};

}  // namespace metalpxe::etcd
