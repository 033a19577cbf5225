#include "ui/ui_clusters.h"

#include <cstdio>

namespace metalpxe::ui {

using json = nlohmann::json;  // as ui_server.cpp (one unity unit may hold both)

namespace {

constexpr auto kMinProbeGap = std::chrono::seconds(1);

std::string EtcdMemberIdHex(std::uint64_t id) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(id));
  return text;
}

json UiClusterNodeJson(const metalpxe::v1::ClusterNode& n) {
  return json{{"name", n.name()},
              {"role", n.role()},
              {"state", n.state()},
              {"ip", n.ip()},
              {"talosVersion", n.talos_version()}};
}

json UiClusterJson(const metalpxe::v1::Cluster& c, const UiClusterProbe* probe) {
  json nodes = json::array();
  json by_state = json::object();
  for (const auto& n : c.nodes()) {
    nodes.push_back(UiClusterNodeJson(n));
    by_state[n.state()] = by_state.value(n.state(), 0) + 1;
  }
  json out{{"name", c.name()},
           {"endpoint", c.endpoint()},
           {"bootstrapMode", c.bootstrap_mode()},
           {"bootstrap", c.bootstrap()},
           {"bootstrapNode", c.bootstrap_node()},
           {"bootstrapReason", c.bootstrap_reason()},
           {"bootstrapAttempts", c.bootstrap_attempts()},
           {"bootstrapChangedUnix", c.bootstrap_changed_unix()},
           {"nodes", nodes},
           {"nodesByState", by_state},
           {"checked", probe != nullptr}};
  if (probe) {
    out["etcdMembers"] = probe->etcd_members;
    out["etcdError"] = probe->etcd_error;
    out["kubernetesReady"] = probe->kubernetes_ready;
    out["kubernetesDetail"] = probe->kubernetes_detail;
    out["statusError"] = probe->status_error;
    out["checkedUnixMs"] = probe->checked_unix_ms;
  }
  return out;
}

std::int64_t UiNowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

UiClusterProbe UiClusterProbeOf(const metalpxe::v1::ClusterStatus& status, std::int64_t now_unix_ms) {
  UiClusterProbe p;
  for (const auto& m : status.etcd_members()) {
    p.etcd_members.push_back(json{{"id", EtcdMemberIdHex(m.id())},
                                  {"hostname", m.hostname()},
                                  {"peerUrls", json(std::vector<std::string>(m.peer_urls().begin(), m.peer_urls().end()))},
                                  {"clientUrls",
                                   json(std::vector<std::string>(m.client_urls().begin(), m.client_urls().end()))},
                                  {"learner", m.is_learner()}});
  }
  p.etcd_error = status.etcd_error();
  p.kubernetes_ready = status.kubernetes_ready();
  p.kubernetes_detail = status.kubernetes_detail();
  p.checked_unix_ms = now_unix_ms;
  return p;
}

json UiClustersJson(const std::vector<metalpxe::v1::Cluster>& clusters,
                    const std::map<std::string, UiClusterProbe>& probes) {
  json list = json::array();
  for (const auto& c : clusters) {
    auto it = probes.find(c.name());
    list.push_back(UiClusterJson(c, it == probes.end() ? nullptr : &it->second));
  }
  return json{{"clusters", list}};
}

UiClusterProber::UiClusterProber(ManagementBackend& backend, std::chrono::milliseconds interval, Done done)
    : backend_(backend), interval_(interval), done_(std::move(done)) {}

UiClusterProber::~UiClusterProber() { Stop(); }

void UiClusterProber::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void UiClusterProber::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void UiClusterProber::SetWatched(bool watched) {
  {
    std::lock_guard lock(mu_);
    watched_ = watched;
  }
  wake_.notify_all();
}

void UiClusterProber::ProbeSoon() {
  {
    std::lock_guard lock(mu_);
    soon_ = true;
  }
  wake_.notify_all();
}

void UiClusterProber::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    const bool due = watched_ && now - last_round_ >= interval_;
    const bool asked = soon_ && now - last_round_ >= kMinProbeGap;
    if (!due && !asked) {
      if (!watched_ && !soon_) {
        wake_.wait(lock);
      } else {
        // A page's request waits out the gap; otherwise the next interval.
        const std::chrono::steady_clock::duration wait =
            soon_ ? std::chrono::steady_clock::duration(kMinProbeGap) : std::chrono::steady_clock::duration(interval_);
        wake_.wait_until(lock, last_round_ + wait);
      }
      continue;
    }
    soon_ = false;
    last_round_ = now;
    lock.unlock();
    std::map<std::string, UiClusterProbe> probes;
    for (const auto& c : backend_.ListClusters()) {
      {
        std::lock_guard check(mu_);
        if (stopping_) return;
      }
      auto status = backend_.GetClusterStatus(c.name());
      if (status.ok()) {
        probes[c.name()] = UiClusterProbeOf(*status, UiNowUnixMs());
      } else {
        UiClusterProbe failed;
        failed.status_error = status.status().message();
        failed.checked_unix_ms = UiNowUnixMs();
        probes[c.name()] = std::move(failed);
      }
    }
    done_(std::move(probes));
    lock.lock();
  }
}

}  // namespace metalpxe::ui
