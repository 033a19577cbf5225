#pragma once
// The status page's cluster section: the facts `metalpxectl cluster status`
// shows (nodes with role, state, address and Talos version; the bootstrap
// state and its reason; etcd members; whether the Kubernetes endpoint
// answers /readyz), as JSON built from an allow-list of fields. Never a
// credential: no kubeconfig, talosconfig, key or machine config exists in
// what the backend hands over here, and nothing is copied wholesale.
//
// Two speeds. The nodes and the bootstrap record are local (ListClusters,
// cheap) and go out with every machine update. etcd members, /readyz and
// versions need calls to the cluster that block for seconds
// (GetClusterStatus), so UiClusterProber makes them on a thread of its own,
// only while a page is open, at most once per `interval` (a request for a
// probe during one is absorbed), and hands the answers over.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/management/management_backend.h"

namespace metalpxe::ui {

// What a GetClusterStatus call said about one cluster, already reduced to
// what the page shows.
struct UiClusterProbe {
  nlohmann::json etcd_members = nlohmann::json::array();
  std::string etcd_error;
  bool kubernetes_ready = false;
  std::string kubernetes_detail;
  std::string status_error;  // the call itself failed (the cluster went from the config, ...)
  std::int64_t checked_unix_ms = 0;
};

UiClusterProbe UiClusterProbeOf(const metalpxe::v1::ClusterStatus& status, std::int64_t now_unix_ms);

// {"clusters": [...]}: every configured cluster with its nodes and bootstrap
// record, and the facts of its last probe where there was one ("checked": false otherwise).
nlohmann::json UiClustersJson(const std::vector<metalpxe::v1::Cluster>& clusters,
                              const std::map<std::string, UiClusterProbe>& probes);

class UiClusterProber {
 public:
  using Done = std::function<void(std::map<std::string, UiClusterProbe>)>;
  // `done` runs on the prober's thread after each round and must not block.
  UiClusterProber(ManagementBackend& backend, std::chrono::milliseconds interval, Done done);
  ~UiClusterProber();  // Stop()
  UiClusterProber(const UiClusterProber&) = delete;
  UiClusterProber& operator=(const UiClusterProber&) = delete;

  void Start();
  void Stop();  // waits for the round under way (each call is bounded)
  // Pages open: probe every interval; none: idle.
  void SetWatched(bool watched);
  // A page just opened: a round now, unless one ran less than a second ago.
  void ProbeSoon();

 private:
  void Run();

  ManagementBackend& backend_;
  const std::chrono::milliseconds interval_;
  Done done_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool watched_ = false, soon_ = false, stopping_ = false;
  std::chrono::steady_clock::time_point last_round_{};
  std::thread thread_;
};

}  // namespace metalpxe::ui
