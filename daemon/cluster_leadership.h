#pragma once
// Who does a named cluster's work (bootstrap, upgrade runs, applying the
// configs of its machines) when several appliances share one etcd store:
// one leader election per cluster (etcd/etcd_election.h, the same kind as
// DHCP's per subnet), key `<prefix>leaders/clusters/<cluster>`. Machines
// with configDelivery apply but no cluster have one election of their own
// (`<prefix>leaders/clusters-none`). The drivers ask Leads() before each
// round's work and again right before each call they make to a node, after
// the record that guards the call is durable: an appliance that lost its
// lease has stepped down before any other can be elected (EtcdElection's
// conservative clock), so the new leader reads that record.
//
// With the SQLite store there is one appliance: no ClusterLeadership at all
// (the drivers take a null pointer as "always the one").
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "etcd/etcd_client.h"
#include "etcd/etcd_election.h"

namespace metalpxe {

class ClusterLeadership {
 public:
  virtual ~ClusterLeadership() = default;
  // True while this appliance leads `cluster` ("" = machines without one).
  // Any thread; campaigns for a cluster it was not asked about before.
  virtual bool Leads(const std::string& cluster) = 0;
  // The holder last seen ("" when none is known), for messages.
  virtual std::string Leader(const std::string& cluster) = 0;
};

// The key of a cluster's election.
std::string ClusterElectionKey(const std::string& prefix, const std::string& cluster);

struct ClusterElectionOptions {
  std::string prefix;            // the store's key prefix
  std::string candidate;         // this appliance, as the others see it leading
  std::int64_t ttl_seconds = 3;  // a dead leader holds its clusters at most this long
};

class EtcdClusterLeadership : public ClusterLeadership {
 public:
  // `on_change(cluster)` runs on the etcd client's thread when this
  // appliance's role for a cluster changes (the drivers ask for a round).
  EtcdClusterLeadership(std::shared_ptr<etcd::EtcdClient> client, ClusterElectionOptions options,
                        std::function<void(const std::string&)> on_change);
  // Resigns every election: a standby takes the clusters at once.
  ~EtcdClusterLeadership() override;

  void Campaign(const std::vector<std::string>& clusters);
  bool Leads(const std::string& cluster) override;
  std::string Leader(const std::string& cluster) override;

 private:
  etcd::EtcdElection& ElectionFor(const std::string& cluster);  // under mu_

  std::shared_ptr<etcd::EtcdClient> client_;
  ClusterElectionOptions options_;
  std::function<void(const std::string&)> on_change_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<etcd::EtcdElection>> elections_;
};

}  // namespace metalpxe
