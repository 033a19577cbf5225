#include "daemon/cluster_upgrade_driver.h"

#include <future>

#include <spdlog/spdlog.h>

namespace metalpxe {
namespace {

// The pin a record gives the profiles, as one comparable value.
std::string PinOf(const UpgradeRecord& r) { return r.pinned_version + "/" + r.pinned_schematic; }

std::string JoinNodeNames(const UpgradePlan& plan) {
  std::string out;
  for (const auto& n : plan.nodes) out += (out.empty() ? "" : ", ") + n.name;
  return out;
}

// What makes a record another one for ResumeLedRuns.
std::string RecordKey(const UpgradeRecord& r) {
  return r.version + "/" + r.schematic + "/" + r.node + "/" + std::to_string(r.done.size()) + "/" +
         std::to_string(r.changed_unix);
}

std::string TookSeconds(std::int64_t ms) { return std::to_string((ms + 500) / 1000) + " s"; }

}  // namespace

ClusterUpgradeDriver::ClusterUpgradeDriver(const ConfigSource& config, MachineRegistry& registry, Store* store,
                                           ClusterUpgradeOptions options)
    : config_(config), registry_(registry), store_(store), options_(std::move(options)) {}

ClusterUpgradeDriver::~ClusterUpgradeDriver() { Stop(); }

std::int64_t ClusterUpgradeDriver::NowMs() const {
  if (options_.now_ms) return options_.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status ClusterUpgradeDriver::Load() {
  if (!store_) return Status::Ok();
  auto loaded = store_->LoadUpgrades();
  if (!loaded.ok()) return loaded.status();
  std::lock_guard lock(mu_);
  for (auto& r : *loaded) {
    if (r.state == UpgradeRunState::kRunning)
      spdlog::warn("cluster {}: the upgrade to {} was under way when metalpxed stopped{}; run `metalpxectl upgrade "
                   "{} --to {}` to finish it",
                   r.cluster, r.version, r.node.empty() ? "" : " (" + r.node + " in flight)", r.cluster, r.version);
    records_[r.cluster] = std::move(r);
  }
  return Status::Ok();
}

void ClusterUpgradeDriver::Reread() {
  if (!store_) return;
  auto loaded = store_->LoadUpgrades();
  if (!loaded.ok()) {
    spdlog::warn("upgrades: cannot read the shared upgrade records: {}", loaded.status().ToString());
    return;
  }
  bool pins_changed = false;
  {
    std::lock_guard lock(mu_);
    for (auto& stored : *loaded) {
      // A run here writes its own record (durably, before it keeps it).
      if (active_.count(stored.cluster)) continue;
      auto it = records_.find(stored.cluster);
      const std::string before = it == records_.end() ? PinOf(UpgradeRecord{}) : PinOf(it->second);
      if (PinOf(stored) != before) {
        pins_changed = true;
        spdlog::info("cluster {}: upgrade pin {} (recorded by another appliance)", stored.cluster,
                     stored.pinned_version.empty() ? "none" : stored.pinned_version);
      }
      records_[stored.cluster] = std::move(stored);
    }
  }
  if (pins_changed && on_pins_changed_) on_pins_changed_();
}

bool ClusterUpgradeDriver::Leads(const std::string& cluster) const {
  return !options_.leadership || options_.leadership->Leads(cluster);
}

std::string ClusterUpgradeDriver::NotLeadingReason(const std::string& cluster) const {
  const std::string leader = options_.leadership ? options_.leadership->Leader(cluster) : "";
  return "this appliance does not lead cluster " + cluster + " (" +
         (leader.empty() ? std::string("no leader known yet") : leader + " leads it") +
         "); its leader runs the cluster's upgrades";
}

void ClusterUpgradeDriver::ResumeLedRuns() {
  if (!options_.leadership) return;
  std::vector<UpgradeRecord> under_way;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    for (const auto& [name, r] : records_) {
      if (r.state != UpgradeRunState::kRunning || active_.contains(name)) continue;
      // Started already (its thread may not have begun), or refused: not
      // again for the same record, so a plan refused here is not retried
      // (and its event not recorded) every round.
      if (auto it = resumed_.find(name); it != resumed_.end() && it->second.record == RecordKey(r) &&
                                         std::chrono::steady_clock::now() < it->second.not_before)
        continue;
      under_way.push_back(r);
    }
  }
  for (const auto& r : under_way) {
    if (!Leads(r.cluster)) continue;
    {
      std::lock_guard lock(mu_);
      resumed_[r.cluster] = Resumed{RecordKey(r)};
    }
    spdlog::info("cluster {}: resuming the upgrade to {} from the shared record{}", r.cluster, r.version,
                 r.node.empty() ? "" : " (" + r.node + " in flight: waited for, not called again)");
    registry_.RecordClusterEvent(r.cluster, "upgrade to " + r.version + " resumed by this appliance");
    const std::string cluster = r.cluster;
    Start(
        r.cluster, r.version, r.schematic,
        [cluster](const UpgradeUpdate& u) {
          spdlog::info("cluster {}: upgrade {}{}{}", cluster, u.phase, u.node.empty() ? "" : " " + u.node,
                       u.message.empty() ? "" : ": " + u.message);
        },
        [this, cluster](const Status& st) {
          if (st.ok()) return;
          spdlog::warn("cluster {}: the resumed upgrade ended: {}", cluster, st.message());
          // Stopped or no longer leading: the record stays running, and
          // whoever leads next (this appliance again, too) resumes it.
          const bool again_now = st.code() == ErrorCode::kUnavailable || !Leads(cluster);
          std::lock_guard lock(mu_);
          if (again_now)
            resumed_.erase(cluster);
          else if (auto it = resumed_.find(cluster); it != resumed_.end())
            it->second.not_before = std::chrono::steady_clock::now() + std::chrono::minutes(1);
        });
  }
}

std::vector<UpgradeRecord> ClusterUpgradeDriver::Records() const {
  std::lock_guard lock(mu_);
  std::vector<UpgradeRecord> out;
  for (const auto& [name, r] : records_) out.push_back(r);
  return out;
}

void ClusterUpgradeDriver::Start(const std::string& cluster, const std::string& version,
                                 const std::string& schematic, UpgradeListener progress,
                                 std::function<void(const Status&)> done) {
  std::lock_guard lock(mu_);
  if (stopping_) {
    done(Status(ErrorCode::kUnavailable, "metalpxed is stopping"));
    return;
  }
  threads_.emplace_back([this, cluster, version, schematic, progress = std::move(progress), done = std::move(done)] {
    done(Run(cluster, version, schematic, progress));
  });
}

void ClusterUpgradeDriver::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  wake_.notify_all();
  for (auto& t : threads)
    if (t.joinable()) t.join();
}

bool ClusterUpgradeDriver::Sleep(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !wake_.wait_for(lock, d, [this] { return stopping_; });
}

bool ClusterUpgradeDriver::Persist(const UpgradeRecord& record) {
  std::string pin_before;
  {
    std::lock_guard lock(mu_);
    if (auto it = records_.find(record.cluster); it != records_.end()) pin_before = PinOf(it->second);
    else pin_before = PinOf(UpgradeRecord{});
  }
  if (store_) {
    auto done = std::make_shared<std::promise<Status>>();
    auto written = done->get_future();
    store_->PutUpgrade(record, [done](const Status& st) { done->set_value(st); });
    if (written.wait_for(options_.persist_timeout) != std::future_status::ready) {
      spdlog::error("cluster {}: the store did not confirm the upgrade record in time", record.cluster);
      return false;
    }
    if (const Status st = written.get(); !st.ok()) {
      spdlog::error("cluster {}: cannot store the upgrade record: {}", record.cluster, st.ToString());
      return false;
    }
  }
  {
    std::lock_guard lock(mu_);
    records_[record.cluster] = record;
  }
  if (PinOf(record) != pin_before && on_pins_changed_) on_pins_changed_();
  return true;
}

talos::CallResult<talos::NodeVersion> ClusterUpgradeDriver::Look(const ClusterConfig& cluster,
                                                                 const Node& node) const {
  if (node.address.empty())
    return talos::CallError{talos::CallFailure::kUnreachable, "no address known for it yet"};
  auto client = talos::MachineClient::Connect(node.address, options_.apid_port, cluster.talos);
  if (!client.ok()) return talos::CallError{talos::CallFailure::kOther, client.status().message()};
  return client->Version(options_.probe_timeout);
}

Status ClusterUpgradeDriver::Run(const std::string& cluster_name, const std::string& version,
                                 const std::string& schematic, const UpgradeListener& progress) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status(ErrorCode::kUnavailable, "metalpxed is stopping");
    if (active_.contains(cluster_name))
      return Status(ErrorCode::kFailedPrecondition, "an upgrade of cluster " + cluster_name + " is under way");
    active_.insert(cluster_name);
  }
  struct Release {
    ClusterUpgradeDriver* d;
    std::string name;
    ~Release() {
      std::lock_guard lock(d->mu_);
      d->active_.erase(name);
    }
  } release{this, cluster_name};

  const auto config = config_.Current();
  auto it = config->clusters.find(cluster_name);
  if (it == config->clusters.end()) return Status(ErrorCode::kNotFound, "no cluster " + cluster_name);
  if (!Leads(cluster_name)) return Status(ErrorCode::kFailedPrecondition, NotLeadingReason(cluster_name));
  if (std::string problem = SharedProfileProblem(*config, cluster_name); !problem.empty())
    return Status(ErrorCode::kFailedPrecondition, problem);

  std::vector<UpgradeCandidate> candidates;
  std::map<std::string, Node> nodes;
  if (config->inventory) {
    for (const auto& m : config->inventory->machines) {
      if (m.cluster != cluster_name || m.macs.empty()) continue;
      const std::string profile_name = m.profile.empty() ? config->boot.default_profile : m.profile;
      UpgradeCandidate c{m.name, m.role, registry_.StateOf(m.macs.front()), profile_name, "", ""};
      if (auto p = config->profiles.find(profile_name); p != config->profiles.end()) {
        c.schematic = p->second.schematic;
        c.image_factory = p->second.image_factory;
      }
      Node n{m.macs.front(), ""};
      if (m.ip) n.address = m.ip->ToString();
      else if (auto seen = registry_.AddressOf(n.mac)) n.address = seen->ToString();
      nodes[m.name] = n;
      candidates.push_back(std::move(c));
    }
  }
  auto plan = PlanUpgrade(cluster_name, candidates, version, schematic);
  if (!plan.ok()) return plan.status();
  std::optional<UpgradeRecord> previous;
  {
    std::lock_guard lock(mu_);
    if (auto r = records_.find(cluster_name); r != records_.end()) previous = r->second;
  }
  auto run = StartUpgradeRun(*plan, schematic, previous, NowMs());
  if (!run.ok()) return run.status();

  progress({"plan", "", JoinNodeNames(*plan)});
  for (const auto& s : plan->skipped) progress({"skipped", s.substr(0, s.find(':')), s.substr(s.find(':') + 2)});
  if (!run->record.node.empty())
    progress({"waiting", run->record.node, "resuming: its upgrade to " + version + " was under way"});
  if (!Persist(run->record))
    return Status(ErrorCode::kUnavailable, "cannot store the upgrade record of cluster " + cluster_name);
  spdlog::info("cluster {}: upgrade to {} started: {}", cluster_name, version, JoinNodeNames(*plan));
  registry_.RecordClusterEvent(cluster_name, "upgrade to " + version + " started: " + JoinNodeNames(*plan));
  return Drive(it->second, *plan, std::move(*run), nodes, progress);
}

Status ClusterUpgradeDriver::Drive(const ClusterConfig& cluster, const UpgradePlan& plan, UpgradeRun run,
                                   const std::map<std::string, Node>& nodes, const UpgradeListener& progress) {
  const std::string& name = plan.cluster;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return Status(ErrorCode::kUnavailable, "metalpxed is stopping; run the upgrade again to finish it");
    }
    // Another appliance leads the cluster now: it resumes this run from the
    // record (which stays running), so this one stops touching the nodes.
    if (!Leads(name)) {
      spdlog::warn("cluster {}: no longer leading it; the upgrade to {} is left to its new leader", name,
                   plan.version);
      return Status(ErrorCode::kUnavailable, NotLeadingReason(name));
    }
    const UpgradeStep step = NextUpgradeStep(plan, run, options_.limits, NowMs());
    switch (step.kind) {
      case UpgradeStep::Kind::kDone: {
        run.record.state = UpgradeRunState::kDone;
        run.record.changed_unix = NowMs() / 1000;
        Persist(run.record);
        spdlog::info("cluster {}: every node runs {}", name, plan.version);
        registry_.RecordClusterEvent(name, "upgraded to " + plan.version + ": every node answers it");
        progress({"done", "", "cluster " + name + " runs " + plan.version});
        return Status::Ok();
      }
      case UpgradeStep::Kind::kFailed: {
        run.record.state = UpgradeRunState::kFailed;
        run.record.reason = step.reason;
        run.record.changed_unix = NowMs() / 1000;
        Persist(run.record);
        spdlog::error("cluster {}: upgrade to {} failed: {}", name, plan.version, step.reason);
        registry_.RecordClusterEvent(name, "upgrade to " + plan.version + " failed: " + step.reason);
        progress({"failed", step.node, step.reason});
        return Status(ErrorCode::kFailedPrecondition, step.reason);
      }
      case UpgradeStep::Kind::kLook: {
        if (step.delay.count() > 0 && !Sleep(step.delay))
          return Status(ErrorCode::kUnavailable, "metalpxed is stopping; run the upgrade again to finish it");
        const Node& node = nodes.at(step.node);
        const auto answer = Look(cluster, node);
        const std::size_t done_before = run.record.done.size();
        const bool waiting = run.phase == UpgradePhase::kWaitBack;
        const std::string last_before = run.last;
        const std::int64_t since = run.record.node_since_ms;
        VersionAnswer seen;
        if (answer.ok()) seen.tag = answer->tag;
        else seen.error = answer.error().message;
        OnLooked(plan, run, step.node, seen, NowMs());
        if (run.record.done.size() > done_before) {
          Persist(run.record);
          if (waiting) {
            progress({"upgraded", step.node, "answers " + plan.version + " after " + TookSeconds(NowMs() - since)});
            registry_.RecordEvent(node.mac, "upgrade", "runs " + plan.version + " after its upgrade");
            registry_.RecordClusterEvent(name, step.node + " upgraded to " + plan.version);
          } else {
            progress({"already", step.node, "answers " + plan.version});
          }
        } else if (waiting && run.last != last_before) {
          progress({"waiting", step.node, run.last});
        }
        break;
      }
      case UpgradeStep::Kind::kCheckPeers: {
        std::vector<std::string> down;
        for (const auto& n : plan.nodes) {
          if (n.role != Role::kControlPlane || n.name == step.node) continue;
          auto answer = Look(cluster, nodes.at(n.name));
          if (!answer.ok()) down.push_back(n.name + ": " + answer.error().message);
        }
        OnPeersChecked(run, step.node, down, NowMs());
        break;
      }
      case UpgradeStep::Kind::kCallUpgrade: {
        const Node& node = nodes.at(step.node);
        BeforeUpgradeCall(run, step.node, NowMs());
        // The node in flight is durable before the call: a restart waits for
        // it instead of calling Upgrade on it again.
        if (!Persist(run.record))
          return Status(ErrorCode::kUnavailable, "cannot store the upgrade record of cluster " + name +
                                                     "; " + step.node + " was not called");
        // Still the leader once the node in flight is durable: a successor
        // is elected only after this appliance stepped down, so it reads
        // the node in flight and waits for it instead of calling it again.
        if (!Leads(name)) return Status(ErrorCode::kUnavailable, NotLeadingReason(name));
        spdlog::info("cluster {}: calling Upgrade on {} ({}) with {}", name, step.node, node.address, step.image);
        UpgradeCallAnswer result;
        auto client = talos::MachineClient::Connect(node.address, options_.apid_port, cluster.talos);
        if (!client.ok()) {
          result.message = client.status().message();
        } else {
          auto ack = client->Upgrade(step.image, /*preserve=*/false, options_.upgrade_timeout);
          result.accepted = ack.ok();
          result.deadline_exceeded = !ack.ok() && ack.error().failure == talos::CallFailure::kDeadlineExceeded;
          result.message = ack.ok() ? *ack : ack.error().message;
        }
        OnUpgradeCalled(run, step.node, result, NowMs());
        if (run.record.state == UpgradeRunState::kRunning) {
          registry_.RecordEvent(node.mac, "upgrade", "upgrade to " + plan.version + " requested (" + step.image + ")");
          progress({"upgrading", step.node, step.image});
        }
        break;
      }
    }
  }
}

}  // namespace metalpxe
