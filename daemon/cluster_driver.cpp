#include "daemon/cluster_driver.h"

#include <future>

#include <spdlog/spdlog.h>

#include "core/config_clusters.h"

namespace metalpxe {
namespace {

BootstrapCallResult BootstrapResultOf(const talos::CallResult<talos::BootstrapOutcome>& r) {
  using K = BootstrapCallResult::Kind;
  if (r.ok())
    return {*r == talos::BootstrapOutcome::kBootstrapped ? K::kBootstrapped : K::kAlreadyBootstrapped, ""};
  return {r.error().retryable() ? K::kRetry : K::kRefused, r.error().message};
}

bool SameMeaning(const ClusterRecord& a, const ClusterRecord& b) {
  return a.bootstrap == b.bootstrap && a.reason == b.reason && a.node == b.node;
}

}  // namespace

ClusterDriver::ClusterDriver(const ConfigSource& config, MachineRegistry& registry, Store* store,
                             Scheduler& scheduler, ClusterDriverOptions options)
    : config_(config), registry_(registry), store_(store), scheduler_(scheduler), options_(std::move(options)) {
  if (!options_.retry_delay) options_.retry_delay = BootstrapRetryDelay;
}

ClusterDriver::~ClusterDriver() { Stop(); }

std::int64_t ClusterDriver::NowUnix() const {
  if (options_.now_unix) return options_.now_unix();
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status ClusterDriver::Load() {
  if (!store_) return Status::Ok();
  auto loaded = store_->LoadClusters();
  if (!loaded.ok()) return loaded.status();
  std::lock_guard lock(mu_);
  for (auto& r : *loaded) {
    ClusterRecord fresh = RoundAfterRestart(r);
    if (fresh.bootstrap != r.bootstrap)
      spdlog::info("cluster {}: bootstrap failed before ({}); trying again, on {}", r.name, r.reason,
                   fresh.node.empty() ? "the first running control plane" : fresh.node);
    records_[r.name] = std::move(fresh);
  }
  return Status::Ok();
}

void ClusterDriver::Start() {
  {
    std::lock_guard lock(mu_);
    if (started_) return;
    started_ = true;
    round_requested_ = true;  // look at once
  }
  worker_ = std::thread([this] { Worker(); });
  std::lock_guard lock(mu_);
  Tick();
}

void ClusterDriver::Stop() {
  {
    std::lock_guard life(life_->mu);
    life_->on = false;
  }
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    tick_.reset();
    retry_ticks_.clear();
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

// Under mu_: schedules the next periodic tick.
void ClusterDriver::Tick() {
  if (stopping_) return;
  tick_ = scheduler_.After(options_.round_interval, [this, life = life_] {
    std::lock_guard alive(life->mu);
    if (!life->on) return;
    std::lock_guard lock(mu_);
    round_requested_ = true;
    wake_.notify_all();
    Tick();
  });
}

void ClusterDriver::RequestRound() {
  {
    std::lock_guard lock(mu_);
    round_requested_ = true;
  }
  wake_.notify_all();
}

std::uint64_t ClusterDriver::rounds() const {
  std::lock_guard lock(mu_);
  return rounds_;
}

ClusterRecord ClusterDriver::Record(const std::string& cluster) const {
  std::lock_guard lock(mu_);
  if (auto it = records_.find(cluster); it != records_.end()) return it->second;
  ClusterRecord r;
  r.name = cluster;
  return r;
}

void ClusterDriver::Worker() {
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || round_requested_; });
    if (stopping_) return;
    round_requested_ = false;
    lock.unlock();
    Round();
    lock.lock();
    ++rounds_;
    wake_.notify_all();
  }
}

std::vector<ClusterDriver::Target> ClusterDriver::Targets(const AppConfig& config, const MachineRegistry& registry,
                                                          const std::string& cluster) {
  std::vector<Target> out;
  if (!config.inventory) return out;
  for (const auto& m : config.inventory->machines) {
    if (m.cluster != cluster || m.macs.empty()) continue;
    Target t;
    t.mac = m.macs.front();
    t.member.name = m.name;
    t.member.role = m.role;
    t.member.state = registry.StateOf(t.mac);
    t.config_by_apply = ConfigDeliveryFor(config, m) == ConfigDelivery::kApply;
    // A static address from the inventory, else where it was last seen.
    if (m.ip)
      t.member.address = m.ip->ToString();
    else if (auto seen = registry.AddressOf(t.mac))
      t.member.address = seen->ToString();
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<ClusterMember> ClusterDriver::Members(const AppConfig& config, const MachineRegistry& registry,
                                                  const std::string& cluster) {
  std::vector<ClusterMember> out;
  for (auto& t : Targets(config, registry, cluster)) out.push_back(std::move(t.member));
  return out;
}

bool ClusterDriver::Leads(const std::string& cluster) const {
  return !options_.leadership || options_.leadership->Leads(cluster);
}

void ClusterDriver::Round() {
  if (options_.shared_store) RereadRecords();
  if (options_.each_round) options_.each_round();
  ApplyConfigs();
  const auto config = config_.Current();
  for (const auto& [name, cluster] : config->clusters) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    // A standby leaves the cluster to its leader: the records it wrote come
    // back through RereadRecords, its machines' states through the store.
    if (!Leads(name)) continue;
    DriveCluster(cluster, Targets(*config, registry_, name));
  }
}

void ClusterDriver::RereadRecords() {
  if (!store_) return;
  auto loaded = store_->LoadClusters();
  if (!loaded.ok()) {
    // The round goes on with what this appliance knew; the store's health
    // is reported elsewhere (metalpxectl health, metalpxe_store_quorum).
    spdlog::warn("clusters: cannot read the shared bootstrap records: {}", loaded.status().ToString());
    return;
  }
  std::lock_guard lock(mu_);
  for (auto& stored : *loaded) {
    auto it = records_.find(stored.name);
    // Another appliance's write is newer; bootstrapped is final whoever
    // wrote it. A failed record this appliance gave a fresh round at start
    // (same time stamp) stays fresh here.
    const bool take = it == records_.end() || stored.changed_unix > it->second.changed_unix ||
                      (stored.bootstrap == ClusterBootstrapState::kBootstrapped &&
                       it->second.bootstrap != ClusterBootstrapState::kBootstrapped);
    if (!take) continue;
    if (it != records_.end() && it->second.bootstrap != stored.bootstrap)
      spdlog::info("cluster {}: {} (recorded by another appliance)", stored.name, ClusterEventMessage(stored));
    records_[stored.name] = std::move(stored);
  }
}

void ClusterDriver::ApplyConfigs() {
  if (!provisioning_) return;
  const auto config = config_.Current();
  for (const auto& t : provisioning_->ConfigApplyTargets()) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    // Only the leader of the machine's cluster applies its config, and it
    // asks again right before the call (below): two appliances never both
    // push a config to one node.
    std::string cluster;
    if (config->inventory)
      for (const auto& m : config->inventory->machines)
        if (m.name == t.machine) cluster = m.cluster;
    if (!Leads(cluster)) continue;
    const std::string host = t.address.ToString();
    auto client = talos::MachineClient::ConnectMaintenance(host, options_.apid_port);
    std::string failure;
    if (!client.ok()) {
      failure = client.status().message();
    } else if (auto up = client->Version(options_.probe_timeout); !up.ok()) {
      // A short look first: a silent address must not hold the round for
      // ApplyConfiguration's long deadline.
      failure = up.error().message;
    } else {
      auto rendered = provisioning_->ConfigToApply(t.mac);
      if (!rendered.ok()) continue;  // the machine failed with the reason
      if (!Leads(cluster)) continue;  // stepped down during the look
      auto applied = client->ApplyConfiguration(*rendered, talos::ApplyMode::kAuto, options_.apply_timeout);
      if (applied.ok()) {
        spdlog::info("{}: config applied over TLS at {} (Talos chose {})", t.machine, host, applied->mode);
        provisioning_->OnConfigApplied(t.mac, t.address, applied->mode);
        std::lock_guard lock(mu_);
        last_probe_failure_.erase(t.machine);
        continue;
      }
      if (applied.error().failure == talos::CallFailure::kInvalidArgument) {
        spdlog::error("{}: Talos rejected its config: {}", t.machine, applied.error().message);
        provisioning_->OnConfigRejected(t.mac, applied.error().message);
        continue;
      }
      failure = applied.error().message;
    }
    // The installer takes a while to reach maintenance mode: say why once.
    std::lock_guard lock(mu_);
    auto& last = last_probe_failure_[t.machine];
    if (last != failure) {
      spdlog::info("{}: waiting to apply its config at {}: {}", t.machine, host, failure);
      last = failure;
    }
  }
}

void ClusterDriver::DriveCluster(const ClusterConfig& cluster, std::vector<Target> targets) {
  // An installed machine comes up. One whose config went over the Talos API
  // is followed through it from `installing` on: its event sink may not
  // reach us (a Hetzner server across the internet, no kernel arguments
  // from us), and only the system installed with that config holds the
  // cluster's credentials.
  for (auto& t : targets)
    if (t.member.state == MachineState::kInstalled ||
        (t.member.state == MachineState::kInstalling && t.config_by_apply))
      ProbeVersion(cluster, t);

  const ClusterRecord record = Record(cluster.name);
  std::vector<ClusterNodeView> views;
  for (const auto& t : targets) {
    ClusterNodeView v{t.member.name, t.member.role, t.member.state, 0};
    // Before any bootstrap is known: does a running control plane already
    // carry etcd (a cluster bootstrapped before, by hand or by us)?
    if (record.bootstrap != ClusterBootstrapState::kBootstrapped && v.role == Role::kControlPlane &&
        v.state == MachineState::kRunning)
      v.etcd_members = EtcdMemberCount(cluster, t);
    views.push_back(std::move(v));
  }
  const BootstrapDecision d = DecideBootstrap(cluster.bootstrap, record, views);
  switch (d.kind) {
    case BootstrapDecision::Kind::kNothing:
      return;
    case BootstrapDecision::Kind::kRecognise: {
      int members = 0;
      for (const auto& v : views)
        if (v.name == d.node) members = v.etcd_members;
      Persist(record, Recognised(record, d.node, members, NowUnix()));
      return;
    }
    case BootstrapDecision::Kind::kCall:
      CallBootstrap(cluster, d.node, targets);
      return;
  }
}

void ClusterDriver::ProbeVersion(const ClusterConfig& cluster, Target& t) {
  if (t.member.address.empty()) return;
  auto client = talos::MachineClient::Connect(t.member.address, options_.apid_port, cluster.talos);
  std::string failure;
  if (!client.ok()) {
    failure = client.status().message();
  } else {
    auto v = client->Version(options_.probe_timeout);
    if (v.ok()) {
      const std::string answered = "talos API answered Version over mutual TLS with cluster " + cluster.name +
                                   "'s talosconfig (" + v->tag + ")";
      // The server's certificate verified against the cluster's CA: this is
      // the installed system with its config, not the maintenance API.
      if (t.member.state == MachineState::kInstalling)
        registry_.Apply(t.mac, LifecycleEvent::kBootedAfterInstall,
                        answered + ": installed with its applied config and booted from its disk");
      registry_.Apply(t.mac, LifecycleEvent::kApiAnswered, answered);
      t.member.state = registry_.StateOf(t.mac);
      std::lock_guard lock(mu_);
      last_probe_failure_.erase(t.member.name);
      versions_[t.member.name] = v->tag;
      return;
    }
    failure = v.error().message;
  }
  // Nodes are silent while they reboot: say why once per change, not per round.
  std::lock_guard lock(mu_);
  auto& last = last_probe_failure_[t.member.name];
  if (last != failure) {
    spdlog::info("cluster {}: {} installed, not running yet: {}", cluster.name, t.member.name, failure);
    last = failure;
  }
}

int ClusterDriver::EtcdMemberCount(const ClusterConfig& cluster, const Target& t) const {
  if (t.member.address.empty()) return 0;
  auto client = talos::MachineClient::Connect(t.member.address, options_.apid_port, cluster.talos);
  if (!client.ok()) return 0;
  auto members = client->EtcdMemberList(options_.probe_timeout);
  // No etcd yet answers an error (Unavailable, FailedPrecondition): none.
  return members.ok() ? static_cast<int>(members->size()) : 0;
}

void ClusterDriver::CallBootstrap(const ClusterConfig& cluster, const std::string& node,
                                  const std::vector<Target>& targets) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    if (auto it = next_call_.find(cluster.name); it != next_call_.end() && now < it->second) return;  // backing off
  }
  const Target* target = nullptr;
  for (const auto& t : targets)
    if (t.member.name == node) target = &t;
  if (!target || target->member.address.empty()) return;

  const ClusterRecord before = Record(cluster.name);
  const ClusterRecord intent = BeforeBootstrapCall(before, node, NowUnix());
  // Exactly once: the intent (and the node it pins) is durable before the call.
  if (!Persist(before, intent)) return;
  // Still the leader once the intent is durable: a successor is elected only
  // after this appliance stepped down, so it reads the intent.
  if (!Leads(cluster.name)) return;

  spdlog::info("cluster {}: calling Bootstrap on {} ({}), attempt {}", cluster.name, node, target->member.address,
               intent.attempts);
  BootstrapCallResult result;
  auto client = talos::MachineClient::Connect(target->member.address, options_.apid_port, cluster.talos);
  if (!client.ok()) {
    result = {BootstrapCallResult::Kind::kRefused, client.status().message()};
  } else {
    result = BootstrapResultOf(client->Bootstrap(options_.bootstrap_timeout));
  }
  const ClusterRecord after = AfterBootstrapCall(intent, result, NowUnix());
  Persist(intent, after);
  if (after.bootstrap == ClusterBootstrapState::kBootstrapping) {
    const auto delay = options_.retry_delay(after.attempts);
    spdlog::info("cluster {}: not bootstrapped yet ({}); next attempt in {} ms", cluster.name, after.reason,
                 delay.count());
    std::lock_guard lock(mu_);
    next_call_[cluster.name] = std::chrono::steady_clock::now() + delay;
    if (!stopping_)
      retry_ticks_[cluster.name] = scheduler_.After(delay, [this, life = life_] {
        std::lock_guard alive(life->mu);
        if (life->on) RequestRound();
      });
  } else if (after.bootstrap == ClusterBootstrapState::kBootstrapped) {
    spdlog::info("cluster {}: bootstrapped ({})", cluster.name, after.reason);
  } else {
    spdlog::error("cluster {}: bootstrap failed: {}", cluster.name, after.reason);
  }
}

bool ClusterDriver::Persist(const ClusterRecord& before, const ClusterRecord& after) {
  if (store_) {
    auto done = std::make_shared<std::promise<Status>>();
    auto written = done->get_future();
    store_->PutCluster(after, [done](const Status& st) { done->set_value(st); });
    if (written.wait_for(options_.persist_timeout) != std::future_status::ready) {
      spdlog::error("cluster {}: the store did not confirm the bootstrap record in time", after.name);
      return false;
    }
    if (const Status st = written.get(); !st.ok()) {
      spdlog::error("cluster {}: cannot store the bootstrap record: {}", after.name, st.ToString());
      return false;
    }
  }
  {
    std::lock_guard lock(mu_);
    records_[after.name] = after;
  }
  if (!SameMeaning(before, after)) registry_.RecordClusterEvent(after.name, ClusterEventMessage(after));
  return true;
}

Result<std::vector<talos::EtcdMember>> ClusterDriver::EtcdMembers(const std::string& cluster) const {
  const auto config = config_.Current();
  auto it = config->clusters.find(cluster);
  if (it == config->clusters.end()) return Status(ErrorCode::kNotFound, "no cluster " + cluster);
  std::string last = "no control plane of cluster " + cluster + " is running";
  for (const auto& t : Targets(*config, registry_, cluster)) {
    if (t.member.role != Role::kControlPlane || t.member.state != MachineState::kRunning || t.member.address.empty())
      continue;
    auto client = talos::MachineClient::Connect(t.member.address, options_.apid_port, it->second.talos);
    if (!client.ok()) return client.status();
    auto members = client->EtcdMemberList(options_.probe_timeout);
    if (members.ok()) return *members;
    last = members.error().message;
  }
  return Status(ErrorCode::kUnavailable, last);
}

std::string ClusterDriver::KnownVersion(const std::string& machine) const {
  std::lock_guard lock(mu_);
  auto it = versions_.find(machine);
  return it == versions_.end() ? std::string() : it->second;
}

void ClusterDriver::RefreshVersions(const std::string& cluster) {
  const auto config = config_.Current();
  auto it = config->clusters.find(cluster);
  if (it == config->clusters.end()) return;
  for (const auto& t : Targets(*config, registry_, cluster)) {
    if (t.member.state != MachineState::kRunning || t.member.address.empty()) continue;
    auto client = talos::MachineClient::Connect(t.member.address, options_.apid_port, it->second.talos);
    if (!client.ok()) continue;
    auto v = client->Version(options_.probe_timeout);
    if (!v.ok()) continue;  // silent now: the last answer stays what is known
    std::lock_guard lock(mu_);
    versions_[t.member.name] = v->tag;
  }
}

Result<Secret> ClusterDriver::Kubeconfig(const std::string& cluster) const {
  const auto config = config_.Current();
  auto it = config->clusters.find(cluster);
  if (it == config->clusters.end()) return Status(ErrorCode::kNotFound, "no cluster " + cluster);
  std::string last = "no control plane of cluster " + cluster + " is running";
  for (const auto& t : Targets(*config, registry_, cluster)) {
    if (t.member.role != Role::kControlPlane || t.member.state != MachineState::kRunning || t.member.address.empty())
      continue;
    auto client = talos::MachineClient::Connect(t.member.address, options_.apid_port, it->second.talos);
    if (!client.ok()) return client.status();
    auto kubeconfig = client->Kubeconfig();
    if (kubeconfig.ok()) return std::move(*kubeconfig);
    last = kubeconfig.error().message;
  }
  return Status(ErrorCode::kUnavailable, last);
}

}  // namespace metalpxe
