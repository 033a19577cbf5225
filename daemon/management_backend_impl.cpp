#include "daemon/management_backend_impl.h"

#include <filesystem>
#include <fstream>

#include "core/config_loader.h"
#include "daemon/appliance.h"
#include "daemon/kubernetes_readyz.h"
#include "daemon/profile_assets.h"
#include "core/provisioning/boot_urls.h"
#include "core/timeline.h"

namespace metalpxe {
namespace {

v1::LogLine ToProto(const KmsgLine& l) {
  v1::LogLine out;
  out.set_facility(l.facility);
  out.set_priority(l.priority);
  out.set_message(l.msg);
  if (l.clock_us) out.set_time_unix_ms(*l.clock_us / 1000);
  return out;
}

v1::Event ToProto(const EventRecord& e) {
  v1::Event out;
  out.set_id(e.id);
  out.set_time_unix_ms(e.time_unix_ms);
  out.set_machine(e.machine);
  out.set_kind(e.kind);
  out.set_message(e.message);
  return out;
}

}  // namespace

// Also used by the status page (ui/), so one shape reaches every reader.
v1::TimelineEntry TimelineEntryToProto(const TimelineEntry& e) {
  v1::TimelineEntry out;
  out.set_mac(e.mac.ToString());
  out.set_seq(e.seq);
  out.set_time_unix_ms(e.time_unix_ms);
  out.set_source(std::string(TimelineSourceName(e.source)));
  out.set_summary(e.summary);
  out.set_details(e.details);
  out.set_repeats(e.repeats);
  out.set_last_unix_ms(e.last_unix_ms);
  return out;
}

Result<MachineRecord> ApplianceManagementBackend::Find(const std::string& machine) const {
  if (auto r = registry().GetByName(machine)) return *r;
  return Status{ErrorCode::kNotFound, "machine " + machine + " not found"};
}

v1::Machine ApplianceManagementBackend::ToProto(const AppConfig& config, const MachineRecord& r) const {
  v1::Machine m;
  m.set_name(r.name);
  m.set_state(std::string(MachineStateName(r.state)));
  m.set_reason(r.reason);
  if (!r.last_ip.IsUnspecified()) m.set_ip(r.last_ip.ToString());
  m.set_uuid(r.uuid);
  m.set_arch(r.arch);
  m.set_vendor_class(r.vendor_class);
  m.set_serial(r.serial);
  m.set_first_seen_unix(r.first_seen_unix);
  m.set_last_seen_unix(r.last_seen_unix);
  m.set_state_changed_unix(r.state_changed_unix);
  m.set_secure_boot(registry().SecureBootOf(r.mac));
  if (const MachineConfig* c = MachineRegistry::InventoryMachine(config, r.mac)) {
    m.set_name(c->name);
    for (const auto& mac : c->macs) m.add_macs(mac.ToString());
    m.set_role(std::string(RoleName(c->role)));
    m.set_profile(c->profile);
    m.set_install_disk(c->install_disk);
    if (c->bmc) m.set_bmc_type(std::string(BmcTypeName(c->bmc->type)));
  } else {
    m.add_macs(r.mac.ToString());
  }
  return m;
}

std::vector<v1::Machine> ApplianceManagementBackend::ListMachines() {
  const auto config = p_.config->Current();
  std::vector<v1::Machine> out;
  for (const auto& r : registry().List()) out.push_back(ToProto(*config, r));
  return out;
}

Result<v1::Machine> ApplianceManagementBackend::GetMachine(const std::string& machine) {
  auto r = Find(machine);
  if (!r.ok()) return r.status();
  return ToProto(*p_.config->Current(), *r);
}

Result<v1::Machine> ApplianceManagementBackend::AcceptMachine(const v1::AcceptMachineRequest& req) {
  auto accepted = p_.service->Accept({req.mac(), req.name(), req.role(), req.profile(), req.install_disk()});
  if (!accepted.ok()) return accepted.status();
  if (!p_.reload || !p_.reload())
    return Status{ErrorCode::kInternal, "accepted, but the inventory reload failed; see the metalpxed log"};
  return GetMachine(req.name());
}

Result<std::string> ApplianceManagementBackend::ExportMachinesYaml() {
  const auto config = p_.config->Current();
  const std::string path = AcceptedMachinesFile(config->server);
  if (!std::filesystem::exists(path)) return std::string("machines: []\n");
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

Result<v1::Machine> ApplianceManagementBackend::Reinstall(const std::string& machine, bool wipe) {
  auto r = Find(machine);
  if (!r.ok()) return r.status();
  if (auto st = p_.service->RequestReinstall(r->mac, wipe); !st.ok()) return st;
  return GetMachine(machine);
}

void ApplianceManagementBackend::Power(const std::string& machine, v1::PowerRequest::Action action,
                                       std::function<void(Result<std::string>)> done) {
  auto r = Find(machine);
  if (!r.ok()) return done(r.status());
  PowerAction a = PowerAction::kStatus;
  switch (action) {
    case v1::PowerRequest::ON: a = PowerAction::kOn; break;
    case v1::PowerRequest::OFF: a = PowerAction::kOff; break;
    case v1::PowerRequest::CYCLE: a = PowerAction::kCycle; break;
    default: break;
  }
  p_.service->Power(r->mac, a, std::move(done));
}

std::vector<v1::Event> ApplianceManagementBackend::Events(std::int64_t since_unix_ms, const std::string& machine) {
  // Events name a machine by its inventory name, or by MAC while it was unknown.
  std::string name = machine, mac_text = machine;
  if (!machine.empty())
    if (auto r = Find(machine); r.ok()) {
      name = r->name;
      mac_text = r->mac.ToString();
    }
  std::vector<v1::Event> out;
  for (const auto& e : registry().RecentEvents(0, 1'000'000)) {
    if (e.time_unix_ms < since_unix_ms) continue;
    if (!machine.empty() && e.machine != name && e.machine != mac_text) continue;
    out.push_back(metalpxe::ToProto(e));
  }
  return out;
}

int ApplianceManagementBackend::SubscribeEvents(std::function<void(const v1::Event&)> listener) {
  return registry().Subscribe([listener = std::move(listener)](const EventRecord& e) { listener(metalpxe::ToProto(e)); });
}

void ApplianceManagementBackend::UnsubscribeEvents(int id) { registry().Unsubscribe(id); }

Result<std::vector<v1::LogLine>> ApplianceManagementBackend::KernelLogTail(const std::string& machine, std::size_t n) {
  auto r = Find(machine);
  if (!r.ok()) return r.status();
  const std::string key = r->name.empty() ? r->mac.ToString() : r->name;
  std::vector<v1::LogLine> out;
  if (p_.kmsg)
    for (const auto& l : p_.kmsg->Tail(key, n)) out.push_back(metalpxe::ToProto(l));
  return out;
}

Result<std::uint64_t> ApplianceManagementBackend::SubscribeKernelLogs(const std::string& machine,
                                                                      std::function<void(const v1::LogLine&)> listener) {
  auto r = Find(machine);
  if (!r.ok()) return r.status();
  if (!p_.kmsg) return Status{ErrorCode::kUnavailable, "kernel log receiver not running"};
  const std::string key = r->name.empty() ? r->mac.ToString() : r->name;
  return p_.kmsg->Subscribe(key, [listener = std::move(listener)](const KmsgLine& l) { listener(metalpxe::ToProto(l)); });
}

void ApplianceManagementBackend::UnsubscribeKernelLogs(std::uint64_t id) {
  if (p_.kmsg) p_.kmsg->Unsubscribe(id);
}

Result<v1::TimelineResponse> ApplianceManagementBackend::Timeline(const std::string& machine, std::size_t limit) {
  auto r = Find(machine);
  if (!r.ok()) return r.status();
  v1::TimelineResponse out;
  out.set_machine(r->name.empty() ? r->mac.ToString() : r->name);
  out.set_mac(r->mac.ToString());
  for (const auto& e : p_.service->timeline().Entries(r->mac, limit == 0 ? SIZE_MAX : limit))
    *out.add_entries() = TimelineEntryToProto(e);
  return out;
}

Result<int> ApplianceManagementBackend::SubscribeTimeline(const std::string& machine,
                                                          std::function<void(const v1::TimelineEntry&)> listener) {
  auto r = Find(machine);
  if (!r.ok()) return r.status();
  return p_.service->timeline().Subscribe([mac = r->mac, listener = std::move(listener)](const TimelineEntry& e) {
    if (e.mac == mac) listener(TimelineEntryToProto(e));
  });
}

void ApplianceManagementBackend::UnsubscribeTimeline(int id) { p_.service->timeline().Unsubscribe(id); }

std::vector<v1::Lease> ApplianceManagementBackend::Leases() {
  std::vector<v1::Lease> out;
  if (!p_.dhcp) return out;
  for (const auto& l : p_.dhcp->Leases()) {
    v1::Lease o;
    o.set_ip(l.ip.ToString());
    o.set_mac(l.mac.ToString());
    o.set_hostname(l.hostname);
    o.set_expires_unix(l.expires_unix);
    o.set_kind(l.kind == LeaseRecord::Kind::kActive ? "active"
               : l.kind == LeaseRecord::Kind::kDeclined ? "declined" : "released");
    out.push_back(o);
  }
  return out;
}

std::vector<v1::Image> ApplianceManagementBackend::Images() {
  const auto config = p_.config->Current();
  const std::string served = ProfileAssetsDir(config->server);
  std::vector<v1::Image> out;
  for (const auto& [name, profile] : config->profiles) {
    v1::Image img;
    img.set_profile(name);
    img.set_source(profile.kernel.empty() ? "factory " + profile.schematic + "/" + profile.talos_version : "local");
    const std::string kernel = served + "/" + name + "/" + std::string(kKernelFileName);
    const std::string initramfs = served + "/" + name + "/" + std::string(kInitramfsFileName);
    img.set_ready(std::filesystem::exists(kernel) && std::filesystem::exists(initramfs));
    if (img.ready()) {
      img.set_kernel(kernel);
      img.set_initramfs(initramfs);
    }
    out.push_back(img);
  }
  return out;
}

void ApplianceManagementBackend::PullImage(const std::string& profile,
                                           std::function<void(const v1::PullProgress&)> progress,
                                           std::function<void(const Status&)> done) {
  const auto config = p_.config->Current();
  auto it = config->profiles.find(profile);
  if (it == config->profiles.end()) return done(Status{ErrorCode::kNotFound, "profile " + profile + " not found"});
  const std::string served = ProfileAssetsDir(config->server);
  p_.assets->ResolveAsync(
      it->second,
      [progress](const AssetProgress& p) {
        v1::PullProgress out;
        out.set_file(p.file);
        out.set_bytes_done(p.bytes_done);
        out.set_bytes_total(p.bytes_total);
        progress(out);
      },
      [served, profile, done](Result<BootAssetPaths> paths) {
        done(paths.ok() ? PublishProfileAssets(served, profile, *paths) : paths.status());
      });
}

void ApplianceManagementBackend::RecordApiCall(const ApiCallRecord& call) {
  // The event names the machine as the others do (inventory name, else MAC);
  // a call about no machine, or one we do not know, is the appliance's own.
  std::string machine;
  if (!call.machine.empty())
    if (auto r = Find(call.machine); r.ok()) machine = r->name.empty() ? r->mac.ToString() : r->name;
  registry().RecordApiEvent(machine, call.message);
}

std::string ApplianceManagementBackend::Version() { return kVersion; }

v1::Cluster ApplianceManagementBackend::ClusterToProto(const AppConfig& config, const ClusterConfig& c) const {
  v1::Cluster out;
  out.set_name(c.name);
  out.set_endpoint(c.endpoint);
  out.set_bootstrap_mode(std::string(BootstrapModeName(c.bootstrap)));
  ClusterRecord r;
  r.name = c.name;
  if (p_.clusters) r = p_.clusters->Record(c.name);
  out.set_bootstrap(std::string(ClusterBootstrapStateName(r.bootstrap)));
  out.set_bootstrap_node(r.node);
  out.set_bootstrap_reason(r.reason);
  out.set_bootstrap_attempts(r.attempts);
  out.set_bootstrap_changed_unix(r.changed_unix);
  if (p_.upgrades) {
    for (const auto& u : p_.upgrades->Records()) {
      if (u.cluster != c.name) continue;
      out.set_upgrade(std::string(UpgradeRunStateName(u.state)));
      out.set_upgrade_version(u.version);
      out.set_upgrade_reason(u.reason);
      out.set_pinned_version(u.pinned_version);
    }
  }
  for (const auto& m : ClusterDriver::Members(config, registry(), c.name)) {
    auto* n = out.add_nodes();
    n->set_name(m.name);
    n->set_role(std::string(RoleName(m.role)));
    n->set_state(std::string(MachineStateName(m.state)));
    n->set_ip(m.address);
    if (p_.clusters) n->set_talos_version(p_.clusters->KnownVersion(m.name));
  }
  return out;
}

std::vector<v1::Cluster> ApplianceManagementBackend::ListClusters() {
  const auto config = p_.config->Current();
  std::vector<v1::Cluster> out;
  for (const auto& [name, c] : config->clusters) out.push_back(ClusterToProto(*config, c));
  return out;
}

Result<v1::ClusterStatus> ApplianceManagementBackend::GetClusterStatus(const std::string& cluster) {
  const auto config = p_.config->Current();
  auto it = config->clusters.find(cluster);
  if (it == config->clusters.end()) return Status(ErrorCode::kNotFound, "no cluster " + cluster);
  v1::ClusterStatus out;
  if (p_.clusters) p_.clusters->RefreshVersions(cluster);
  *out.mutable_cluster() = ClusterToProto(*config, it->second);
  if (p_.clusters) {
    auto members = p_.clusters->EtcdMembers(cluster);
    if (members.ok()) {
      for (const auto& m : *members) {
        auto* e = out.add_etcd_members();
        e->set_id(m.id);
        e->set_hostname(m.hostname);
        for (const auto& u : m.peer_urls) e->add_peer_urls(u);
        for (const auto& u : m.client_urls) e->add_client_urls(u);
        e->set_is_learner(m.is_learner);
      }
    } else {
      out.set_etcd_error(members.status().message());
    }
  }
  const ReadyzAnswer readyz = ProbeKubernetesReadyz(it->second, config->server.state_dir, std::chrono::seconds(5));
  out.set_kubernetes_ready(readyz.ready);
  out.set_kubernetes_detail(readyz.detail);
  return out;
}

Result<Secret> ApplianceManagementBackend::Kubeconfig(const std::string& cluster) {
  if (!p_.clusters) return Status(ErrorCode::kUnavailable, "cluster driver not running");
  return p_.clusters->Kubeconfig(cluster);
}

void ApplianceManagementBackend::UpgradeCluster(const v1::UpgradeClusterRequest& request,
                                                std::function<void(const v1::UpgradeProgress&)> progress,
                                                std::function<void(const Status&)> done) {
  if (!p_.upgrades) {
    done(Status(ErrorCode::kUnavailable, "upgrades are not running"));
    return;
  }
  p_.upgrades->Start(
      request.cluster(), request.version(), request.schematic(),
      [progress = std::move(progress)](const UpgradeUpdate& u) {
        v1::UpgradeProgress p;
        p.set_phase(u.phase);
        p.set_node(u.node);
        p.set_message(u.message);
        p.set_time_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count());
        progress(p);
      },
      std::move(done));
}

Result<Secret> ApplianceManagementBackend::Talosconfig(const std::string& cluster) {
  const auto config = p_.config->Current();
  auto it = config->clusters.find(cluster);
  if (it == config->clusters.end()) return Status(ErrorCode::kNotFound, "no cluster " + cluster);
  std::ifstream in(it->second.talosconfig_file, std::ios::binary);
  if (!in) return Status(ErrorCode::kUnavailable, "cannot read " + it->second.talosconfig_file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return Secret(std::move(text));
}

v1::HealthResponse ApplianceManagementBackend::Health() {
  v1::HealthResponse h;
  h.set_serving(true);
  for (const auto& img : Images())
    if (!img.ready()) h.add_problems("profile " + img.profile() + ": boot assets not ready");
  if (p_.dhcp) {
    const auto d = p_.dhcp->Stats();
    if (!d.store_writable)
      h.add_problems("dhcp: the lease store cannot be written (" + d.store_error +
                     "): no new leases are handed out until it can");
    const DhcpLeadership l = p_.dhcp->Leadership();
    for (const auto& r : l.subnets) {
      auto* out = h.add_dhcp_subnets();
      out->set_subnet(r.subnet.ToString());
      out->set_role(std::string(DhcpSubnetRoleName(l, r)));
      out->set_leader(r.leader_name);
      out->set_term(r.leader ? r.term : 0);
    }
    if (p_.config && p_.config->Current()->dhcp.mode == DhcpMode::kFull && !l.elected)
      for (const auto& s : p_.config->Current()->dhcp.subnets) {
        auto* out = h.add_dhcp_subnets();
        out->set_subnet(s.subnet.ToString());
        out->set_role("single");
      }
  }
  if (p_.config) h.set_store(std::string(StoreTypeName(p_.config->Current()->store.type)));
  if (p_.store_health) {
    const StoreHealthView s = p_.store_health();
    if (s.etcd) {
      h.set_store(s.ok ? "etcd" : (s.no_quorum ? "etcd: no quorum (" : "etcd: failing (") + s.last_error + ")");
      if (!s.ok)
        h.add_problems(std::string("store: ") + (s.no_quorum ? "etcd has no quorum" : "etcd fails") + " (" +
                       s.last_error + "): no new DHCP leases are granted until it works again");
    }
  }
  for (const auto& m : ListMachines())
    if (m.state() == "failed") h.add_problems("machine " + (m.name().empty() ? m.macs(0) : m.name()) + " failed: " + m.reason());
  return h;
}

}  // namespace metalpxe
