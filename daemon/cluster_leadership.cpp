#include "daemon/cluster_leadership.h"

#include "core/log.h"

namespace metalpxe {

std::string ClusterElectionKey(const std::string& prefix, const std::string& cluster) {
  // Cluster names are map keys of the config: one path element each; the
  // machines without a cluster get a key no cluster name can collide with.
  if (cluster.empty()) return prefix + "leaders/clusters-none";
  return prefix + "leaders/clusters/" + cluster;
}

EtcdClusterLeadership::EtcdClusterLeadership(std::shared_ptr<etcd::EtcdClient> client,
                                             ClusterElectionOptions options,
                                             std::function<void(const std::string&)> on_change)
    : client_(std::move(client)), options_(std::move(options)), on_change_(std::move(on_change)) {}

EtcdClusterLeadership::~EtcdClusterLeadership() {
  std::map<std::string, std::unique_ptr<etcd::EtcdElection>> elections;
  {
    std::lock_guard lock(mu_);
    elections.swap(elections_);
  }
  elections.clear();  // each resigns (bounded by the client's call timeout)
}

void EtcdClusterLeadership::Campaign(const std::vector<std::string>& clusters) {
  std::lock_guard lock(mu_);
  for (const auto& c : clusters) ElectionFor(c);
}

etcd::EtcdElection& EtcdClusterLeadership::ElectionFor(const std::string& cluster) {
  auto& slot = elections_[cluster];
  if (slot) return *slot;
  etcd::ElectionOptions eo;
  eo.key = ClusterElectionKey(options_.prefix, cluster);
  eo.candidate = options_.candidate;
  eo.ttl_seconds = options_.ttl_seconds;
  const std::string label = cluster.empty() ? "machines without a cluster" : "cluster " + cluster;
  spdlog::info("{}: campaigning as {} ({}, lease TTL {} s)", label, options_.candidate, eo.key,
               options_.ttl_seconds);
  // on_change runs on the client's thread; the status is read by Leads().
  slot = etcd::EtcdElection::Start(client_, eo, [this, cluster, label, was = std::make_shared<bool>(false)](
                                                    const etcd::ElectionStatus& st) {
    if (st.leader && !*was)
      spdlog::info("{}: this appliance leads its work now (term {})", label, st.term);
    else if (!st.leader && *was)
      spdlog::warn("{}: no longer leading its work; {}", label,
                   st.leader_name.empty() ? "no leader known" : st.leader_name + " leads");
    *was = st.leader;
    if (on_change_) on_change_(cluster);
  });
  return *slot;
}

bool EtcdClusterLeadership::Leads(const std::string& cluster) {
  std::lock_guard lock(mu_);
  return ElectionFor(cluster).status().leader;
}

std::string EtcdClusterLeadership::Leader(const std::string& cluster) {
  std::lock_guard lock(mu_);
  return ElectionFor(cluster).status().leader_name;
}

}  // namespace metalpxe
