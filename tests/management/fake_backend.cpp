#include "tests/management/fake_backend.h"

#include <chrono>
#include <thread>

namespace metalpxe::testing {
namespace v1 = metalpxe::v1;

namespace {
std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

FakeBackend::FakeBackend() {
  const std::int64_t now_s = NowMs() / 1000;
  v1::Machine a;
  a.set_name("node-a");
  a.add_macs("52:54:00:00:00:0a");
  a.set_state("installed");
  a.set_role("controlplane");
  a.set_profile("default");
  a.set_ip("10.66.0.10");
  a.set_bmc_type("ipmi");
  a.set_first_seen_unix(now_s - 3600);
  a.set_last_seen_unix(now_s - 60);
  a.set_install_disk("/dev/sda");
  machines_.push_back(a);
  v1::Machine d;
  d.add_macs("52:54:00:00:00:0d");
  d.set_state("discovered");
  d.set_ip("10.66.0.101");
  d.set_vendor_class("PXEClient:Arch:00007");
  d.set_first_seen_unix(now_s - 120);
  d.set_last_seen_unix(now_s - 5);
  machines_.push_back(d);

  const std::int64_t t0 = NowMs() - 10 * 60 * 1000;  // ten minutes ago
  for (auto [machine, kind, msg] : {std::tuple{"node-a", "dhcp", "offered 10.66.0.10"},
                                    std::tuple{"node-a", "install", "installed to /dev/sda"},
                                    std::tuple{"", "discovered", "new machine 52:54:00:00:00:0d"}}) {
    v1::Event e;
    e.set_id(next_event_id_++);
    e.set_time_unix_ms(t0 + e.id() * 1000);
    e.set_machine(machine);
    e.set_kind(kind);
    e.set_message(msg);
    events_.push_back(e);
  }
  for (int i = 0; i < 3; ++i) {
    v1::LogLine l;
    l.set_time_unix_ms(t0 + i);
    l.set_facility("kern");
    l.set_priority("info");
    l.set_message("boot line " + std::to_string(i));
    logs_["node-a"].push_back(l);
  }
  int seq = 1;
  for (auto [source, summary] : {std::pair{"dhcp", "DHCP DISCOVER from firmware (uefi-x86_64) -> OFFER 10.66.0.10"},
                                 std::pair{"tftp", "TFTP snponly.efi sent, 1.0 MiB in 0.50 s"},
                                 std::pair{"http", "HTTP GET /ipxe (uefi-x86_64): install as controlplane"}}) {
    v1::TimelineEntry e;
    e.set_mac("52:54:00:00:00:0a");
    e.set_seq(seq);
    e.set_time_unix_ms(t0 + seq * 1000);
    e.set_last_unix_ms(e.time_unix_ms());
    e.set_source(source);
    e.set_summary(summary);
    ++seq;
    timelines_["node-a"].push_back(e);
  }
}

Result<v1::TimelineResponse> FakeBackend::Timeline(const std::string& machine, std::size_t limit) {
  std::lock_guard lock(mu_);
  const auto* m = Find(machine);
  if (!m) return Status(ErrorCode::kNotFound, "no machine " + machine);
  v1::TimelineResponse out;
  out.set_machine(m->name().empty() ? m->macs(0) : m->name());
  out.set_mac(m->macs(0));
  const auto& entries = timelines_[m->name()];
  const std::size_t start = limit != 0 && entries.size() > limit ? entries.size() - limit : 0;
  for (std::size_t i = start; i < entries.size(); ++i) *out.add_entries() = entries[i];
  return out;
}

Result<int> FakeBackend::SubscribeTimeline(const std::string& machine,
                                           std::function<void(const v1::TimelineEntry&)> listener) {
  std::lock_guard lock(mu_);
  const auto* m = Find(machine);
  if (!m) return Status(ErrorCode::kNotFound, "no machine " + machine);
  timeline_subs_[next_sub_] = {m->name(), std::move(listener)};
  return next_sub_++;
}

void FakeBackend::UnsubscribeTimeline(int id) {
  std::lock_guard lock(mu_);
  timeline_subs_.erase(id);
}

void FakeBackend::EmitTimeline(const std::string& machine, const std::string& source, const std::string& summary,
                               bool repeat) {
  std::lock_guard lock(mu_);
  auto& entries = timelines_[machine];
  if (repeat && !entries.empty()) {
    entries.back().set_repeats(entries.back().repeats() + 1);
    entries.back().set_last_unix_ms(NowMs());
  } else {
    v1::TimelineEntry e;
    e.set_mac(machine == "node-a" ? "52:54:00:00:00:0a" : "52:54:00:00:00:0d");
    e.set_seq(entries.empty() ? 1 : entries.back().seq() + 1);
    e.set_time_unix_ms(NowMs());
    e.set_last_unix_ms(e.time_unix_ms());
    e.set_source(source);
    e.set_summary(summary);
    entries.push_back(e);
  }
  for (auto& [id, sub] : timeline_subs_)
    if (sub.first == machine) sub.second(entries.back());
}

int FakeBackend::timeline_subscribers() {
  std::lock_guard lock(mu_);
  return static_cast<int>(timeline_subs_.size());
}

const v1::Machine* FakeBackend::Find(const std::string& machine) const {
  for (const auto& m : machines_) {
    if (!m.name().empty() && m.name() == machine) return &m;
    for (const auto& mac : m.macs()) {
      if (mac == machine) return &m;
    }
  }
  return nullptr;
}

std::vector<v1::Machine> FakeBackend::ListMachines() {
  std::lock_guard lock(mu_);
  return machines_;
}

Result<v1::Machine> FakeBackend::GetMachine(const std::string& machine) {
  std::lock_guard lock(mu_);
  if (const auto* m = Find(machine)) return *m;
  return Status(ErrorCode::kNotFound, "no machine " + machine);
}

Result<v1::Machine> FakeBackend::AcceptMachine(const v1::AcceptMachineRequest& request) {
  std::lock_guard lock(mu_);
  calls_.push_back("accept " + request.mac() + " " + request.name() + " " + request.role() + " " + request.profile() +
                   " " + request.install_disk());
  for (auto& m : machines_) {
    for (const auto& mac : m.macs()) {
      if (mac != request.mac()) continue;
      if (!m.name().empty()) return Status(ErrorCode::kAlreadyExists, request.mac() + " is already " + m.name());
      m.set_name(request.name());
      m.set_role(request.role());
      m.set_profile(request.profile().empty() ? "default" : request.profile());
      m.set_install_disk(request.install_disk());
      m.set_state("pending-install");
      exported_.push_back(request.name());
      return m;
    }
  }
  return Status(ErrorCode::kNotFound, "no discovered machine " + request.mac());
}

Result<std::string> FakeBackend::ExportMachinesYaml() {
  std::lock_guard lock(mu_);
  std::string yaml = "machines:\n";
  for (const auto& name : exported_) {
    const auto* m = Find(name);
    yaml += "  - name: " + name + "\n    mac: " + m->macs(0) + "\n    role: " + m->role() + "\n";
  }
  return yaml;
}

Result<v1::Machine> FakeBackend::Reinstall(const std::string& machine, bool wipe) {
  std::lock_guard lock(mu_);
  for (auto& m : machines_) {
    if (&m != Find(machine)) continue;
    calls_.push_back("reinstall " + machine + (wipe ? " wipe" : ""));
    m.set_state("reinstall-requested");
    return m;
  }
  return Status(ErrorCode::kNotFound, "no machine " + machine);
}

void FakeBackend::Power(const std::string& machine, v1::PowerRequest::Action action,
                        std::function<void(Result<std::string>)> done) {
  bool known;
  Status failure;
  {
    std::lock_guard lock(mu_);
    known = Find(machine) != nullptr;
    if (known) calls_.push_back("power " + machine + " " + v1::PowerRequest::Action_Name(action));
    failure = power_failure_;
  }
  // Like the real one: the answer comes from another thread.
  std::thread([known, machine, action, failure, done = std::move(done)] {
    if (!known) return done(Status(ErrorCode::kNotFound, "no machine " + machine));
    if (!failure.ok()) return done(failure);
    done(std::string(action == v1::PowerRequest::OFF ? "off" : "on"));
  }).detach();
}

void FakeBackend::SetPowerFailure(Status failure) {
  std::lock_guard lock(mu_);
  power_failure_ = std::move(failure);
}

std::vector<v1::Event> FakeBackend::Events(std::int64_t since_unix_ms, const std::string& machine) {
  std::lock_guard lock(mu_);
  std::vector<v1::Event> out;
  for (const auto& e : events_) {
    if (e.time_unix_ms() >= since_unix_ms && (machine.empty() || e.machine() == machine)) out.push_back(e);
  }
  return out;
}

int FakeBackend::SubscribeEvents(std::function<void(const v1::Event&)> listener) {
  std::lock_guard lock(mu_);
  event_subs_[next_sub_] = std::move(listener);
  return next_sub_++;
}

void FakeBackend::UnsubscribeEvents(int id) {
  std::lock_guard lock(mu_);
  event_subs_.erase(id);
}

Result<std::vector<v1::LogLine>> FakeBackend::KernelLogTail(const std::string& machine, std::size_t n) {
  std::lock_guard lock(mu_);
  const auto* m = Find(machine);
  if (!m) return Status(ErrorCode::kNotFound, "no machine " + machine);
  auto& lines = logs_[m->name()];
  std::size_t start = lines.size() > n ? lines.size() - n : 0;
  return std::vector<v1::LogLine>(lines.begin() + static_cast<std::ptrdiff_t>(start), lines.end());
}

Result<std::uint64_t> FakeBackend::SubscribeKernelLogs(const std::string& machine,
                                                       std::function<void(const v1::LogLine&)> listener) {
  std::lock_guard lock(mu_);
  const auto* m = Find(machine);
  if (!m) return Status(ErrorCode::kNotFound, "no machine " + machine);
  log_subs_[static_cast<std::uint64_t>(next_sub_)] = {m->name(), std::move(listener)};
  return static_cast<std::uint64_t>(next_sub_++);
}

void FakeBackend::UnsubscribeKernelLogs(std::uint64_t id) {
  std::lock_guard lock(mu_);
  log_subs_.erase(id);
}

std::vector<v1::Lease> FakeBackend::Leases() {
  v1::Lease l;
  l.set_ip("10.66.0.101");
  l.set_mac("52:54:00:00:00:0d");
  l.set_hostname("talos-abc");
  l.set_expires_unix(NowMs() / 1000 + 3600);
  l.set_kind("active");
  return {l};
}

std::vector<v1::Image> FakeBackend::Images() {
  v1::Image i;
  i.set_profile("default");
  i.set_source("factory 376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba/v1.8.3");
  i.set_kernel("/var/lib/metalpxe/assets/default/vmlinuz");
  i.set_initramfs("/var/lib/metalpxe/assets/default/initramfs.xz");
  i.set_ready(true);
  v1::Image j;
  j.set_profile("edge");
  j.set_source("local");
  j.set_error("kernel missing");
  return {i, j};
}

void FakeBackend::PullImage(const std::string& profile, std::function<void(const v1::PullProgress&)> progress,
                            std::function<void(const Status&)> done) {
  std::thread([profile, progress = std::move(progress), done = std::move(done)] {
    if (profile != "default") return done(Status(ErrorCode::kNotFound, "no profile " + profile));
    for (const char* file : {"vmlinuz", "initramfs.xz"}) {
      for (std::uint64_t step = 0; step <= 4; ++step) {
        v1::PullProgress p;
        p.set_file(file);
        p.set_bytes_total(4 << 20);
        p.set_bytes_done(step << 20);
        progress(p);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    done(Status::Ok());
  }).detach();
}

v1::HealthResponse FakeBackend::Health() {
  v1::HealthResponse h;
  h.set_serving(true);
  return h;
}

void FakeBackend::EmitEvent(const std::string& machine, const std::string& kind, const std::string& message) {
  std::lock_guard lock(mu_);
  v1::Event e;
  e.set_id(next_event_id_++);
  e.set_time_unix_ms(NowMs());
  e.set_machine(machine);
  e.set_kind(kind);
  e.set_message(message);
  events_.push_back(e);
  for (auto& [id, listener] : event_subs_) listener(e);
}

void FakeBackend::EmitLogLine(const std::string& machine, const std::string& message) {
  std::lock_guard lock(mu_);
  v1::LogLine l;
  l.set_time_unix_ms(NowMs());
  l.set_facility("kern");
  l.set_priority("info");
  l.set_message(message);
  logs_[machine].push_back(l);
  for (auto& [id, sub] : log_subs_) {
    if (sub.first == machine) sub.second(l);
  }
}

int FakeBackend::event_subscribers() {
  std::lock_guard lock(mu_);
  return static_cast<int>(event_subs_.size());
}

int FakeBackend::log_subscribers() {
  std::lock_guard lock(mu_);
  return static_cast<int>(log_subs_.size());
}

void FakeBackend::RecordApiCall(const ApiCallRecord& call) {
  std::lock_guard lock(mu_);
  api_calls_.push_back(call);
}

std::vector<ApiCallRecord> FakeBackend::api_calls() {
  std::lock_guard lock(mu_);
  return api_calls_;
}

std::vector<std::string> FakeBackend::calls() {
  std::lock_guard lock(mu_);
  return calls_;
}

v1::Cluster FakeBackend::LabCluster() {
  v1::Cluster c;
  c.set_name("lab");
  c.set_endpoint("https://10.66.0.10:6443");
  c.set_bootstrap_mode("auto");
  c.set_bootstrap("bootstrapped");
  c.set_bootstrap_node("node-a");
  c.set_bootstrap_reason("bootstrapped on node-a");
  c.set_bootstrap_attempts(3);
  c.set_bootstrap_changed_unix(NowMs() / 1000 - 300);
  auto* n = c.add_nodes();
  n->set_name("node-a");
  n->set_role("controlplane");
  n->set_state("running");
  n->set_ip("10.66.0.10");
  n->set_talos_version("v1.9.5");
  n = c.add_nodes();
  n->set_name("node-w");
  n->set_role("worker");
  n->set_state("installed");
  return c;
}

std::vector<v1::Cluster> FakeBackend::ListClusters() { return {LabCluster()}; }

Result<v1::ClusterStatus> FakeBackend::GetClusterStatus(const std::string& cluster) {
  if (cluster != "lab") return Status(ErrorCode::kNotFound, "no cluster " + cluster);
  v1::ClusterStatus s;
  *s.mutable_cluster() = LabCluster();
  auto* m = s.add_etcd_members();
  m->set_id(0x1234abcd);
  m->set_hostname("node-a");
  m->add_peer_urls("https://10.66.0.10:2380");
  m->add_client_urls("https://10.66.0.10:2379");
  s.set_kubernetes_ready(false);
  s.set_kubernetes_detail("https://10.66.0.10:6443/readyz: connection refused");
  return s;
}

Result<Secret> FakeBackend::Kubeconfig(const std::string& cluster) {
  if (cluster != "lab") return Status(ErrorCode::kNotFound, "no cluster " + cluster);
  return Secret("apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    server: https://10.66.0.10:6443\n");
}

void FakeBackend::UpgradeCluster(const v1::UpgradeClusterRequest& request,
                                 std::function<void(const v1::UpgradeProgress&)> progress,
                                 std::function<void(const Status&)> done) {
  std::thread([request, progress = std::move(progress), done = std::move(done)] {
    if (request.cluster() != "lab") return done(Status(ErrorCode::kNotFound, "no cluster " + request.cluster()));
    auto say = [&](const std::string& phase, const std::string& node, const std::string& message) {
      v1::UpgradeProgress p;
      p.set_phase(phase);
      p.set_node(node);
      p.set_message(message);
      p.set_time_unix_ms(1'900'000'000'000);
      progress(p);
    };
    const std::string image = "factory.talos.dev/installer/" + std::string(64, 'a') + ":" + request.version();
    say("plan", "", "node-w, node-a");
    if (request.version() != "v1.9.6") {
      const std::string reason = "node-w refused the upgrade: node-w:50000: Upgrade: error validating installer image \"" +
                                 image + "\": not found";
      say("failed", "", reason);
      return done(Status(ErrorCode::kFailedPrecondition, reason));
    }
    for (const char* node : {"node-w", "node-a"}) {
      say("upgrading", node, image);
      say("waiting", node, std::string(node) + ":50000: connection refused");
      say("upgraded", node, "answers v1.9.6 after 41 s");
    }
    say("done", "", "cluster lab runs v1.9.6");
    done(Status::Ok());
  }).detach();
}

Result<Secret> FakeBackend::Talosconfig(const std::string& cluster) {
  if (cluster != "lab") return Status(ErrorCode::kNotFound, "no cluster " + cluster);
  return Secret("context: lab\ncontexts:\n  lab:\n    endpoints:\n    - 10.66.0.10\n");
}

}  // namespace metalpxe::testing
