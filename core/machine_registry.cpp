#include "core/machine_registry.h"

#include <chrono>

#include "core/log.h"

namespace metalpxe {
namespace {
constexpr std::size_t kRecentEvents = 10'000;

void IgnoreDurable(const Status& st) {
  if (!st.ok()) spdlog::error("store write failed: {}", st.ToString());
}
}  // namespace

MachineRegistry::MachineRegistry(const ConfigSource& config, Store* store, Clock clock, Options options)
    : config_(config), store_(store), clock_(std::move(clock)), options_(options) {}

std::int64_t MachineRegistry::NowMs() const {
  if (clock_) return clock_();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status MachineRegistry::Load() {
  if (!store_) return Status::Ok();
  auto machines = store_->LoadMachines();
  if (!machines.ok()) return machines.status();
  auto events = store_->LoadEvents(0, kRecentEvents * 100);
  if (!events.ok()) return events.status();
  std::lock_guard lock(mu_);
  for (auto& m : *machines) {
    if (!m.last_ip.IsUnspecified()) by_ip_[m.last_ip] = m.mac;
    records_[m.mac] = std::move(m);
  }
  for (auto& e : *events) {
    next_event_id_ = std::max(next_event_id_, e.id + 1);
    last_event_[e.machine] = {e.kind, e.message};
    if (e.kind == kSecureBootEventKind) secure_boot_[e.machine] = e.message;
    recent_.push_back(std::move(e));
    if (recent_.size() > kRecentEvents) recent_.pop_front();
  }
  CountUnknownLocked(*config_.Current());
  return Status::Ok();
}

Result<std::size_t> MachineRegistry::MergeFromStore() {
  if (!store_) return std::size_t{0};
  auto machines = store_->LoadMachines();
  if (!machines.ok()) return machines.status();
  std::lock_guard lock(mu_);
  std::size_t changed = 0;
  for (auto& m : *machines) {
    auto it = records_.find(m.mac);
    if (it == records_.end()) {
      if (!m.last_ip.IsUnspecified()) by_ip_[m.last_ip] = m.mac;
      records_[m.mac] = std::move(m);
      ++changed;
      continue;
    }
    MachineRecord& r = it->second;
    bool took = false;
    // A later state change made elsewhere. Within the same second the
    // store's record wins unless it is this appliance's own last write: the
    // store holds the last write in etcd's order.
    const auto own = persisted_state_.find(m.mac);
    const bool own_write = own != persisted_state_.end() && own->second.first == m.state &&
                           own->second.second == m.state_changed_unix;
    const bool same_second_other = m.state_changed_unix == r.state_changed_unix && m.state != r.state && !own_write;
    if (m.state_changed_unix > r.state_changed_unix || same_second_other) {
      r.state = m.state;
      r.reason = m.reason;
      r.state_changed_unix = m.state_changed_unix;
      took = true;
    }
    if (m.last_seen_unix > r.last_seen_unix) {
      r.last_seen_unix = m.last_seen_unix;
      if (!m.last_ip.IsUnspecified() && m.last_ip != r.last_ip) {
        if (!r.last_ip.IsUnspecified()) by_ip_.erase(r.last_ip);
        r.last_ip = m.last_ip;
        by_ip_[r.last_ip] = r.mac;
      }
      for (auto [mine, theirs] : {std::pair{&r.uuid, &m.uuid}, std::pair{&r.arch, &m.arch},
                                  std::pair{&r.vendor_class, &m.vendor_class}, std::pair{&r.serial, &m.serial}})
        if (!theirs->empty()) *mine = *theirs;
      took = true;
    }
    if (took) ++changed;
  }
  if (changed > 0) CountUnknownLocked(*config_.Current());
  return changed;
}

const MachineConfig* MachineRegistry::InventoryMachine(const AppConfig& config, const MacAddress& mac) {
  return config.inventory ? config.inventory->FindByMac(mac) : nullptr;
}

MacAddress MachineRegistry::PrimaryMac(const AppConfig& config, const MacAddress& mac) const {
  const MachineConfig* m = InventoryMachine(config, mac);
  return m ? m->macs.front() : mac;
}

std::string MachineRegistry::KeyName(const AppConfig& config, const MacAddress& primary) const {
  const MachineConfig* m = InventoryMachine(config, primary);
  return m ? m->name : primary.ToString();
}

MachineRecord& MachineRegistry::RecordLocked(const AppConfig& config, const MacAddress& primary) {
  auto [it, fresh] = records_.try_emplace(primary);
  if (fresh) {
    MachineRecord& r = it->second;
    r.mac = primary;
    const MachineConfig* m = InventoryMachine(config, primary);
    if (!m) ++unknown_records_;
    r.name = m ? m->name : "";
    r.state = m ? MachineState::kPendingInstall : MachineState::kDiscovered;
    r.first_seen_unix = NowMs() / 1000;
    r.state_changed_unix = r.first_seen_unix;
  }
  return it->second;
}

void MachineRegistry::PersistLocked(const MachineRecord& r) {
  persisted_seen_[r.mac] = r.last_seen_unix;
  persisted_state_[r.mac] = {r.state, r.state_changed_unix};
  if (store_) store_->PutMachine(r, IgnoreDurable);
}

bool MachineRegistry::AdmitLocked(const AppConfig& config, const MacAddress& primary) {
  if (records_.count(primary) || InventoryMachine(config, primary)) return true;
  if (unknown_records_ < options_.max_unknown_machines) return true;
  if (unknown_dropped_++ % 1000 == 0)
    spdlog::warn("{} unknown machines recorded already; not recording {} (and others like it)",
                 options_.max_unknown_machines, primary.ToString());
  return false;
}

void MachineRegistry::CountUnknownLocked(const AppConfig& config) {
  unknown_records_ = 0;
  for (const auto& [mac, r] : records_)
    if (!InventoryMachine(config, mac)) ++unknown_records_;
}

std::uint64_t MachineRegistry::unknown_machines_dropped() const {
  std::lock_guard lock(mu_);
  return unknown_dropped_;
}

void MachineRegistry::SetMachineEventHook(MachineEventHook hook) {
  std::lock_guard lock(mu_);
  machine_event_hook_ = std::move(hook);
}

void MachineRegistry::EmitLocked(const MacAddress& primary, const std::string& machine, const std::string& kind,
                                 const std::string& message) {
  auto [last, fresh] = last_event_.try_emplace(machine);
  if (!fresh && last->second.first == kind && last->second.second == message) return;
  last->second = {kind, message};
  if (kind == kSecureBootEventKind) secure_boot_[machine] = message;
  EventRecord e;
  e.id = next_event_id_++;
  e.time_unix_ms = NowMs();
  e.machine = machine;
  e.kind = kind;
  e.message = message;
  if (store_) store_->AppendEvent(e, IgnoreDurable);
  recent_.push_back(e);
  if (recent_.size() > kRecentEvents) recent_.pop_front();
  for (const auto& [id, listener] : listeners_) listener(e);
  // Cluster and API events name no machine's MAC: no timeline entry.
  if (machine_event_hook_ && primary != MacAddress{}) machine_event_hook_(primary, e);
}

MachineState MachineRegistry::StateOf(const MacAddress& mac) const {
  const auto config = config_.Current();
  const MacAddress primary = PrimaryMac(*config, mac);
  std::lock_guard lock(mu_);
  if (auto it = records_.find(primary); it != records_.end()) return it->second.state;
  return InventoryMachine(*config, mac) ? MachineState::kPendingInstall : MachineState::kDiscovered;
}

std::optional<MachineRecord> MachineRegistry::Get(const MacAddress& mac) const {
  const auto config = config_.Current();
  const MacAddress primary = PrimaryMac(*config, mac);
  std::lock_guard lock(mu_);
  if (auto it = records_.find(primary); it != records_.end()) {
    MachineRecord r = it->second;
    // The inventory names a machine; a record made while it was unknown has no name yet.
    if (const MachineConfig* m = InventoryMachine(*config, mac)) r.name = m->name;
    return r;
  }
  if (const MachineConfig* m = InventoryMachine(*config, mac)) {
    MachineRecord r;
    r.mac = primary;
    r.name = m->name;
    r.state = MachineState::kPendingInstall;
    return r;
  }
  return std::nullopt;
}

std::optional<MachineRecord> MachineRegistry::GetByName(const std::string& name) const {
  const auto config = config_.Current();
  if (const MachineConfig* m = config->inventory ? config->inventory->FindByName(name) : nullptr)
    return Get(m->macs.front());
  if (auto mac = MacAddress::Parse(name)) return Get(*mac);
  return std::nullopt;
}

std::vector<MachineRecord> MachineRegistry::List() const {
  const auto config = config_.Current();
  std::vector<MachineRecord> out;
  std::lock_guard lock(mu_);
  if (config->inventory) {
    for (const auto& m : config->inventory->machines) {
      if (auto it = records_.find(m.macs.front()); it != records_.end()) {
        out.push_back(it->second);
        out.back().name = m.name;
      } else {
        MachineRecord r;
        r.mac = m.macs.front();
        r.name = m.name;
        r.state = MachineState::kPendingInstall;
        out.push_back(r);
      }
    }
  }
  for (const auto& [mac, r] : records_)
    if (!InventoryMachine(*config, mac) && r.state == MachineState::kDiscovered) out.push_back(r);
  return out;
}

void MachineRegistry::ObserveBoot(const BootObservation& seen) {
  const auto config = config_.Current();
  const bool known = InventoryMachine(*config, seen.mac) != nullptr;
  if (!known && config->boot.unknown_machines == UnknownMachinePolicy::kIgnore) return;
  const MacAddress primary = PrimaryMac(*config, seen.mac);
  std::lock_guard lock(mu_);
  const bool fresh = !records_.count(primary);
  if (!AdmitLocked(*config, primary)) return;
  MachineRecord& r = RecordLocked(*config, primary);
  bool changed = fresh;
  auto update = [&changed](std::string& field, const std::string& value) {
    if (value.empty() || field == value) return;
    field = value;
    changed = true;
  };
  r.last_seen_unix = NowMs() / 1000;
  update(r.uuid, seen.uuid);
  update(r.arch, seen.arch);
  update(r.vendor_class, seen.vendor_class);
  update(r.serial, seen.serial);
  if (seen.ip && !seen.ip->IsUnspecified() && r.last_ip != *seen.ip) {
    if (!r.last_ip.IsUnspecified()) by_ip_.erase(r.last_ip);
    r.last_ip = *seen.ip;
    by_ip_[*seen.ip] = primary;
    changed = true;
  }
  if (fresh && !known)
    EmitLocked(primary, primary.ToString(), "state",
               "discovered: unknown machine (" + (r.arch.empty() ? std::string("firmware unknown") : r.arch) +
                   (r.vendor_class.empty() ? "" : ", " + r.vendor_class) + ")");
  // Nothing new but the time: written now and then, not per request.
  auto seen_written = persisted_seen_.find(primary);
  if (changed || seen_written == persisted_seen_.end() ||
      r.last_seen_unix - seen_written->second >= options_.last_seen_write_seconds)
    PersistLocked(r);
}

std::optional<MacAddress> MachineRegistry::MacForAddress(Ipv4Address ip) const {
  std::lock_guard lock(mu_);
  if (auto it = by_ip_.find(ip); it != by_ip_.end()) return it->second;
  return std::nullopt;
}

std::optional<Ipv4Address> MachineRegistry::AddressOf(const MacAddress& mac) const {
  const auto config = config_.Current();
  const MacAddress primary = PrimaryMac(*config, mac);
  std::lock_guard lock(mu_);
  if (auto it = records_.find(primary); it != records_.end() && !it->second.last_ip.IsUnspecified())
    return it->second.last_ip;
  return std::nullopt;
}

std::optional<MachineState> MachineRegistry::Apply(const MacAddress& mac, LifecycleEvent event,
                                                   const std::string& cause, const std::string& reason) {
  const auto config = config_.Current();
  const MacAddress primary = PrimaryMac(*config, mac);
  std::lock_guard lock(mu_);
  if (!AdmitLocked(*config, primary)) return std::nullopt;
  MachineRecord& r = RecordLocked(*config, primary);
  const auto next = NextState(r.state, event);
  const std::string name = KeyName(*config, primary);
  // Nothing changes: nothing to record (the happening itself, a Talos event
  // or a request, is recorded by whoever saw it when it means something).
  if (!next || (*next == r.state && (*next != MachineState::kFailed || reason == r.reason))) return std::nullopt;
  const MachineState before = r.state;
  r.state = *next;
  r.reason = *next == MachineState::kFailed ? reason : "";
  r.state_changed_unix = NowMs() / 1000;
  PersistLocked(r);
  std::string message = std::string(MachineStateName(before)) + " -> " + std::string(MachineStateName(*next)) +
                        ": " + cause;
  if (!r.reason.empty()) message += " (" + r.reason + ")";
  EmitLocked(primary, name, "state", message);
  spdlog::info("machine {}: {}", name, message);
  return next;
}

void MachineRegistry::OnInventoryChanged(const AppConfig& fresh) {
  std::vector<MacAddress> accepted;
  {
    std::lock_guard lock(mu_);
    for (const auto& [mac, r] : records_)
      if (r.state == MachineState::kDiscovered && InventoryMachine(fresh, mac)) accepted.push_back(mac);
  }
  for (const auto& mac : accepted) {
    // The record was keyed by the MAC it booted with; an inventory entry may
    // list it second. Move it under the inventory's primary MAC.
    const MacAddress primary = PrimaryMac(fresh, mac);
    if (primary != mac) {
      std::lock_guard lock(mu_);
      auto node = records_.extract(mac);
      node.key() = primary;
      node.mapped().mac = primary;
      records_.insert(std::move(node));
      for (auto& [ip, owner] : by_ip_)
        if (owner == mac) owner = primary;
    }
    Apply(primary, LifecycleEvent::kAccepted, "added to the inventory");
  }
  std::lock_guard lock(mu_);
  CountUnknownLocked(fresh);
}

void MachineRegistry::RecordEvent(const MacAddress& mac, const std::string& kind, const std::string& message) {
  const auto config = config_.Current();
  const MacAddress primary = PrimaryMac(*config, mac);
  std::lock_guard lock(mu_);
  if (!records_.count(primary) && !InventoryMachine(*config, primary)) return;  // unrecorded unknown MAC
  EmitLocked(primary, KeyName(*config, primary), kind, message);
}

std::string MachineRegistry::SecureBootOf(const MacAddress& mac) const {
  const auto config = config_.Current();
  const MacAddress primary = PrimaryMac(*config, mac);
  std::lock_guard lock(mu_);
  auto it = secure_boot_.find(KeyName(*config, primary));
  if (it == secure_boot_.end()) return "";
  constexpr std::string_view kPrefix = "Secure Boot: ";
  return it->second.starts_with(kPrefix) ? it->second.substr(kPrefix.size()) : "";
}

void MachineRegistry::RecordClusterEvent(const std::string& cluster, const std::string& message) {
  std::lock_guard lock(mu_);
  EmitLocked(MacAddress{}, std::string(kClusterEventPrefix) + cluster, "cluster", message);
}

void MachineRegistry::RecordApiEvent(const std::string& machine, const std::string& message) {
  std::lock_guard lock(mu_);
  // Each call is someone's action: never folded into "no repeats".
  last_event_.erase(machine);
  EmitLocked(MacAddress{}, machine, "api", message);
}

std::vector<EventRecord> MachineRegistry::RecentEvents(std::int64_t after_id, std::size_t limit) const {
  std::lock_guard lock(mu_);
  std::vector<EventRecord> out;
  for (const auto& e : recent_) {
    if (e.id <= after_id) continue;
    out.push_back(e);
    if (out.size() >= limit) break;
  }
  return out;
}

int MachineRegistry::Subscribe(EventListener listener) {
  std::lock_guard lock(mu_);
  listeners_[next_listener_] = std::move(listener);
  return next_listener_++;
}

void MachineRegistry::Unsubscribe(int id) {
  std::lock_guard lock(mu_);
  listeners_.erase(id);
}

}  // namespace metalpxe
