#include "core/provisioning/provisioning_service.h"

#include <chrono>

#include "core/config_clusters.h"
#include "core/config_loader.h"
#include "core/log.h"
#include "core/install/machine_config_renderer.h"
#include "core/provisioning/boot_decision.h"
#include "core/provisioning/talos_install_signal.h"
#include "core/provisioning/talos_kernel_args.h"
#include "core/provisioning/uki_fetch.h"

namespace metalpxe {
namespace {

// uuid and serial come from a query anyone can send: keep what such an
// identifier can hold, bounded, so listings and events show no control bytes.
std::string CleanIdentifier(std::string_view in) {
  std::string out;
  for (char c : in) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.' || c == ':';
    if (ok) out += c;
    if (out.size() == 64) break;
  }
  return out;
}

std::string PeerText(const IpxeRequest& req) {
  return req.peer6 ? req.peer6->ToString() : req.peer.ToString();
}

std::string_view IpxeAnswerName(IpxeAnswer::Kind k) {
  switch (k) {
    case IpxeAnswer::Kind::kInstall: return "install";
    case IpxeAnswer::Kind::kBootFromDisk: return "boot from disk";
    case IpxeAnswer::Kind::kDiscover: return "discover";
    case IpxeAnswer::Kind::kIgnore: return "ignore";
    case IpxeAnswer::Kind::kRefused: return "refused";
  }
  return "unknown";
}

// Talos sends an event per task (dozens per boot): the timeline keeps the
// sequences, phases, stages, services and errors that tell the story.
bool TalosEventForTimeline(const TalosEvent& ev) {
  return ev.type != kTalosTaskEvent && ev.type != kTalosAddressEvent;
}

std::int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string TalosEventSummary(const TalosEvent& ev) {
  std::string summary = ev.type;
  if (!ev.name.empty()) summary += " " + ev.name;
  if (!ev.action.empty()) summary += " " + ev.action;
  if (!ev.stage.empty()) summary += " stage " + ev.stage;
  if (!ev.error.empty()) summary += ": " + ev.error;
  return summary;
}

ConfigTokenOptions TokenOptionsFor(const BootConfig& boot, bool shared_store) {
  ConfigTokenOptions o = ConfigTokenOptions::FromBootConfig(boot);
  o.shared_store = shared_store;
  return o;
}

}  // namespace

ProvisioningService::ProvisioningService(const ConfigSource& config, Store* store, ProvisioningOptions options,
                                         PowerControl* power, Scheduler* scheduler)
    : config_(config),
      store_(store),
      options_(std::move(options)),
      timeline_(store, options_.timeline),
      registry_(config, store, {}, options_.registry),
      tokens_(TokenOptionsFor(config.Current()->boot, options_.shared_store), options_.token_key, store,
              // One boot is three DHCP clients: a token bound to the address
              // the script was served to also opens from the address the
              // installer's own DHCP got for the same MAC.
              [this](const MacAddress& mac, Ipv4Address peer) { return registry_.AddressOf(mac) == peer; },
              [this](const MacAddress& mac) { return Ipv6LeaseOf(mac); }) {
  if (power && scheduler) {
    jobs_ = std::make_unique<ReinstallJobs>(config, registry_, tokens_, *power, *scheduler);
    jobs_->SetAwaitApply([this](const MacAddress& mac, const std::string& machine, Ipv4Address address) {
      AwaitConfigApply(mac, machine, address);
    });
  }
  // State changes and power actions are told by the registry, wherever
  // they come from (boot path, Talos, reinstall jobs, the API).
  registry_.SetMachineEventHook([this](const MacAddress& primary, const EventRecord& e) {
    if (e.kind == "state") timeline_.Record(primary, TimelineSource::kState, e.message);
    if (e.kind == "power") timeline_.Record(primary, TimelineSource::kPower, e.message);
    // metalpxectl upgrade's calls and the node's answer: Talos's side of its history.
    if (e.kind == "upgrade") timeline_.Record(primary, TimelineSource::kTalos, e.message);
  });
}

void ProvisioningService::RecordTimeline(const MacAddress& mac, TimelineSource source, const TimelineText& text) {
  const MacAddress primary = registry_.PrimaryOf(mac);
  if (!registry_.Get(primary) && !MachineRegistry::InventoryMachine(*config_.Current(), primary)) return;
  timeline_.Record(primary, source, text.summary, text.details);
}

void ProvisioningService::RecordTimelineByAddress(const IpAddress& peer, TimelineSource source,
                                                  const TimelineText& text) {
  if (const auto mac = MacForPeer(peer)) RecordTimeline(*mac, source, text);
}

std::optional<MacAddress> ProvisioningService::MacForPeer(const IpAddress& peer) const {
  if (const auto v4 = peer.v4()) return registry_.MacForAddress(*v4);
  return leases6_.MacFor(peer.mapped, NowUnix());
}

std::optional<Ipv6Address> ProvisioningService::Ipv6LeaseOf(const MacAddress& mac) const {
  return leases6_.AddressOf(mac, NowUnix());
}

Status ProvisioningService::Load() {
  if (auto st = registry_.Load(); !st.ok()) return st;
  std::vector<MacAddress> macs;
  for (const auto& m : registry_.List()) macs.push_back(m.mac);
  if (auto st = timeline_.Load(macs); !st.ok()) return st;
  if (store_) {
    auto n = tokens_.LoadFrom(*store_);
    if (!n.ok()) return n.status();
    if (*n > 0) spdlog::info("{} config tokens with fetches still valid", *n);
    if (auto st = LoadApplyTargets(); !st.ok()) return st;
  }
  if (jobs_) {
    if (const auto n = jobs_->FailInterruptedRescueInstalls(); n > 0)
      spdlog::warn("{} reinstalls through a rescue system were interrupted by the restart; they failed and can be "
                   "requested again", n);
  }
  return Status::Ok();
}

// A restart between "image written / installer served" and "config applied"
// must not leave the machine pending-install forever: its target comes back.
// Targets of machines that moved on (installed, failed, reinstalled by PXE)
// are dropped from the store here.
Status ProvisioningService::LoadApplyTargets() {
  auto targets = store_->LoadApplyTargets();
  if (!targets.ok()) return targets.status();
  std::size_t waiting = 0;
  std::lock_guard lock(apply_mu_);
  for (const auto& t : *targets) {
    if (registry_.StateOf(t.mac) != MachineState::kPendingInstall) {
      store_->DeleteApplyTarget(t.mac, nullptr);
      continue;
    }
    apply_targets_[t.mac] = ConfigApplyTarget{t.mac, t.machine, t.address};
    ++waiting;
  }
  if (waiting > 0) spdlog::info("{} machines still wait for their config by apply", waiting);
  return Status::Ok();
}

Status ProvisioningService::ReloadApplyTargets() {
  if (!store_) return Status::Ok();
  std::uint64_t changes_before = 0;
  {
    std::lock_guard lock(apply_mu_);
    changes_before = apply_changes_;
  }
  // Our own writes first, so the read below has them.
  if (auto st = store_->Flush(); !st.ok()) return st;
  auto stored = store_->LoadApplyTargets();
  if (!stored.ok()) return stored.status();
  std::lock_guard lock(apply_mu_);
  // A target set or cleared here since the read began may be missing from
  // it (or still in it): keep what we have, the next round reads again.
  if (apply_changes_ != changes_before) return Status::Ok();
  std::map<MacAddress, ConfigApplyTarget> fresh;
  for (const auto& t : *stored) {
    if (!apply_targets_.contains(t.mac))
      spdlog::info("{}: waits for its config by apply at {} (registered by another appliance)", t.machine,
                   t.address.ToString());
    fresh[t.mac] = ConfigApplyTarget{t.mac, t.machine, t.address};
  }
  apply_targets_ = std::move(fresh);
  return Status::Ok();
}

void ProvisioningService::SetApplyTargetLocked(const ConfigApplyTarget& target) {
  ++apply_changes_;
  apply_targets_[target.mac] = target;
  if (!store_) return;
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  store_->PutApplyTarget(ApplyTargetRecord{target.mac, target.machine, target.address, now},
                         [mac = target.mac](const Status& st) {
                           if (!st.ok())
                             spdlog::warn("store: the config-apply target of {} was not saved ({}); a restart "
                                          "before its config is applied loses it",
                                          mac.ToString(), st.message());
                         });
}

void ProvisioningService::ClearApplyTargetLocked(const MacAddress& mac) {
  ++apply_changes_;
  apply_targets_.erase(mac);
  // Also when this appliance did not know it: another one may have stored it
  // (a delete of an absent target succeeds).
  if (store_) store_->DeleteApplyTarget(mac, nullptr);
}

LoaderChoice ProvisioningService::LoaderFor(const BootClient& client, const MacAddress& mac) const {
  if (client.stage == BootStage::kOs) return {std::nullopt, "not a network-boot client"};
  return DecideLoader(*config_.Current(), client, mac, registry_.StateOf(mac), options_.loader_exists);
}

void ProvisioningService::OnDhcp(const DhcpSighting& seen) {
  const auto config = config_.Current();
  // Every DHCPv6 binding, known machine or not: an address that moved to
  // another MAC must no longer name its old holder.
  if (seen.leased6) leases6_.Bind(seen.mac, *seen.leased6, seen.leased6_until);
  if (seen.released6) leases6_.Release(seen.mac, *seen.released6);
  // Only boot clients are machines to discover; for everyone else we only
  // keep track of addresses of machines we already know (the installer's
  // own DHCP is not a boot client).
  const bool boot_client = seen.client.stage != BootStage::kOs;
  if (!boot_client && !MachineRegistry::InventoryMachine(*config, seen.mac) && !registry_.Get(seen.mac)) return;
  // The exchange itself was recorded when it was answered; the lease
  // granted after its write only updates the address below.
  const bool exchange = !seen.received.empty();
  BootObservation o;
  o.mac = seen.mac;
  o.ip = seen.leased;
  o.uuid = seen.uuid;
  if (boot_client) o.arch = BootClientName(seen.client);
  o.vendor_class = seen.vendor_class;
  registry_.ObserveBoot(o);
  if (exchange) {
    CheckLoaderStarted(seen);
    RecordTimeline(seen.mac, TimelineSource::kDhcp,
                   DhcpTimelineText({seen.received, seen.replied, seen.client, seen.vendor_class, seen.offered,
                                     seen.boot_file, seen.boot_why, seen.proxy}));
  }
}

void ProvisioningService::NoteLoaderFetch(std::optional<MacAddress> mac, std::string_view fetched, bool ok) {
  if (!mac) return;
  const std::string loader = LoaderFileOf(fetched);
  std::lock_guard lock(loader_mu_);
  if (!loader.empty()) {
    // A loader's own fetch (again, or only its size asked) is not its next step.
    if (ok) loader_handouts_[*mac] = LoaderHandout{loader, std::chrono::steady_clock::now(), false};
    return;
  }
  if (auto it = loader_handouts_.find(*mac); it != loader_handouts_.end()) it->second.next_step_seen = true;
}

void ProvisioningService::NoteLoaderNextStep(const MacAddress& mac) {
  std::lock_guard lock(loader_mu_);
  if (auto it = loader_handouts_.find(mac); it != loader_handouts_.end()) it->second.next_step_seen = true;
}

void ProvisioningService::CheckLoaderStarted(const DhcpSighting& seen) {
  if (seen.client.stage == BootStage::kIpxe) return NoteLoaderNextStep(seen.mac);
  if (seen.client.stage != BootStage::kFirmware || seen.received != "DISCOVER") return;
  std::optional<std::string> refused;
  {
    std::lock_guard lock(loader_mu_);
    auto it = loader_handouts_.find(seen.mac);
    if (it == loader_handouts_.end()) return;
    refused = LoaderNotStarted(it->second, std::chrono::steady_clock::now());
    loader_handouts_.erase(it);
  }
  if (!refused) return;
  spdlog::warn("{}: {}", seen.mac.ToString(), *refused);
  RecordTimeline(seen.mac, TimelineSource::kDhcp, {"refused boot: " + *refused, ""});
  registry_.RecordEvent(seen.mac, "boot", "refused boot: " + *refused);
}

void ProvisioningService::OnChainScript(const IpAddress& peer) {
  if (const auto mac = MacForPeer(peer)) NoteLoaderNextStep(*mac);
  RecordTimelineByAddress(peer, TimelineSource::kHttp,
                          {"HTTP GET /boot.ipxe: chain script served", "path=/boot.ipxe peer=" + peer.ToString()});
}

void ProvisioningService::OnTftpFetch(const IpAddress& peer, const TftpFetch& fetch) {
  NoteLoaderFetch(MacForPeer(peer), fetch.file, fetch.ok);
  RecordTimelineByAddress(peer, TimelineSource::kTftp, TftpTimelineText(fetch));
  if (const auto profile = UkiProfileOf(fetch.file); profile && fetch.ok && peer.v4())
    OnUkiFetched(*peer.v4(), *profile, "TFTP");
}

void ProvisioningService::OnHttpFileFetch(const IpAddress& peer, const HttpFileFetch& fetch) {
  const bool ok = fetch.completed && fetch.status < 400;
  NoteLoaderFetch(MacForPeer(peer), fetch.path, ok);
  RecordTimelineByAddress(peer, TimelineSource::kHttp, HttpFileTimelineText(fetch));
  if (const auto profile = UkiProfileOf(fetch.path); profile && ok && peer.v4())
    OnUkiFetched(*peer.v4(), *profile, "HTTP");
}

void ProvisioningService::OnUkiFetched(Ipv4Address peer, const std::string& profile, std::string_view how) {
  const auto mac = registry_.MacForAddress(peer);
  if (!mac) return;  // nobody we know holds that address: nothing to apply to
  const auto config = config_.Current();
  const MachineConfig* inventory = MachineRegistry::InventoryMachine(*config, *mac);
  const BootDecision d = DecideBoot(*config, inventory, registry_.StateOf(*mac), mac->ToString());
  const UkiFetchVerdict v = JudgeUkiFetch(*config, d, SecureBootFor(*config, inventory), profile,
                                          config->dhcp.mode == DhcpMode::kFull ? registry_.AddressOf(*mac)
                                                                               : std::optional<Ipv4Address>(peer),
                                          peer);
  if (!v.apply) {
    spdlog::warn("{}: UKI of profile {} fetched from {} over {}: {}", mac->ToString(), profile, peer.ToString(), how,
                 v.why);
    registry_.RecordEvent(*mac, "boot", "UKI fetched, no config to apply: " + v.why);
    return;
  }
  {
    std::lock_guard lock(apply_mu_);
    // iPXE's /ipxe (or an earlier fetch of the same boot) made it a target already.
    if (auto it = apply_targets_.find(*mac); it != apply_targets_.end() && it->second.address == peer &&
                                             registry_.StateOf(*mac) == MachineState::kPendingInstall)
      return;
    SetApplyTargetLocked(ConfigApplyTarget{*mac, d.machine_name, peer});
  }
  const std::string what = "UKI fetched over " + std::string(how) + " (profile " + profile + ", role " +
                           std::string(RoleName(d.role)) + "): config by apply to " + peer.ToString();
  // The state changes only out of failed / reinstall-requested: the fetch
  // itself is said in the machine's events and timeline either way.
  registry_.Apply(*mac, LifecycleEvent::kInstallerServed, what);
  registry_.RecordEvent(*mac, "boot", what);
  RecordTimeline(*mac, how == "TFTP" ? TimelineSource::kTftp : TimelineSource::kHttp,
                 {what, "profile=" + profile + " machine=" + d.machine_name + " apply=" + peer.ToString()});
  ++counters_.install_scripts;
  if (jobs_) jobs_->InstallerServed(*mac);
}

void ProvisioningService::OnKernelLog(const IpAddress& peer, std::string_view msg) {
  if (auto milestone = KernelLogMilestone(msg)) {
    RecordTimelineByAddress(peer, TimelineSource::kKmsg, {*milestone, ""});
    // Whether the machine runs with Secure Boot on goes into its record.
    if (milestone->starts_with("Secure Boot: "))
      if (const auto mac = MacForPeer(peer)) registry_.RecordEvent(*mac, std::string(kSecureBootEventKind), *milestone);
  }
}

IpxeAnswer ProvisioningService::OnIpxe(const IpxeRequest& req) {
  NoteLoaderNextStep(req.mac);
  IpxeAnswer a = DecideIpxe(req);
  TimelineText t;
  const std::string client = BootClientName(BootClientFromIpxe(req.buildarch, req.platform));
  const std::string asked = req.grub ? "TFTP " + GrubMachineConfigPath(req.mac) : std::string("HTTP GET /ipxe");
  t.summary = asked + (client.empty() ? std::string() : " (" + client + ")") + ": " +
              std::string(IpxeAnswerName(a.kind));
  if (a.kind == IpxeAnswer::Kind::kInstall) t.summary += " as " + std::string(RoleName(a.role));
  if (a.kind == IpxeAnswer::Kind::kDiscover) t.summary += ", retry in " + std::to_string(a.retry_seconds) + " s";
  if (a.kind == IpxeAnswer::Kind::kBootFromDisk)
    t.summary += " (" + std::string(BootFromDiskName(a.disk_mode)) + ")";
  // a.why is safe to log; the kernel arguments (which carry the token) are never looked at here.
  t.details = "decision=" + std::string(IpxeAnswerName(a.kind)) + " peer=" + PeerText(req);
  if (!a.machine_name.empty()) t.details += " machine=" + a.machine_name;
  if (req.grub && a.kind == IpxeAnswer::Kind::kInstall)  // GRUB loads them over TFTP
    t.details += " kernel=" + ProfileTftpPath(a.profile, kKernelFileName) +
                 " initramfs=" + ProfileTftpPath(a.profile, kInitramfsFileName);
  else if (!a.assets.kernel.empty())
    t.details += " kernel=" + a.assets.kernel + " initramfs=" + a.assets.initramfs;
  if (!a.why.empty()) t.details += " why=" + a.why;
  RecordTimeline(req.mac, req.grub ? TimelineSource::kTftp : TimelineSource::kHttp, t);
  return a;
}

IpxeAnswer ProvisioningService::OnGrubConfig(const MacAddress& mac, Ipv4Address peer) {
  IpxeRequest r{mac, peer, "", "", "x86_64", "efi"};
  r.grub = true;
  return OnIpxe(r);
}

IpxeAnswer ProvisioningService::DecideIpxe(const IpxeRequest& req) {
  ++counters_.scripts;
  const auto config = config_.Current();
  // In full DHCP mode our own DHCP says which address a MAC holds; a request
  // from elsewhere must not move it (or it could claim the machine's token).
  // Over IPv6 `peer` is unspecified: no IPv4 address to record.
  const bool keep_peer = config->dhcp.mode != DhcpMode::kFull && req.family == IpFamily::kIpv4;
  registry_.ObserveBoot({req.mac, keep_peer ? std::optional<Ipv4Address>(req.peer) : std::nullopt,
                         CleanIdentifier(req.uuid), BootClientName(BootClientFromIpxe(req.buildarch, req.platform)),
                         "", CleanIdentifier(req.serial)});

  const MachineConfig* inventory = MachineRegistry::InventoryMachine(*config, req.mac);
  const BootDecision d = DecideBoot(*config, inventory, registry_.StateOf(req.mac), req.mac.ToString());
  IpxeAnswer a;
  a.machine_name = d.machine_name;
  a.role = d.role;
  a.why = d.why;
  switch (d.action) {
    case BootAction::kIgnore: a.kind = IpxeAnswer::Kind::kIgnore; return a;
    case BootAction::kDiscover:
      a.kind = IpxeAnswer::Kind::kDiscover;
      a.retry_seconds = options_.discover_retry_seconds;
      return a;
    case BootAction::kBootFromDisk:
      a.kind = IpxeAnswer::Kind::kBootFromDisk;
      a.disk_mode = d.disk_mode;
      registry_.RecordEvent(req.mac, "boot", "boot from disk (" + std::string(BootFromDiskName(d.disk_mode)) + ")");
      return a;
    case BootAction::kInstall: break;
  }
  // The kernel is the second binary the machine is handed: never one of
  // another architecture (an arm64 machine under an amd64 profile exits
  // iPXE instead, with the reason in its history).
  if (auto mismatch = InstallerArchMismatch(d.profile->arch, BootClientFromIpxe(req.buildarch, req.platform))) {
    a.kind = IpxeAnswer::Kind::kIgnore;
    a.why = "no installer offered: " + *mismatch + " (profile " + d.profile->name + ")";
    registry_.RecordEvent(req.mac, "boot", a.why);
    return a;
  }
  return InstallAnswer(*config, req, d);
}

IpxeAnswer ProvisioningService::InstallAnswer(const AppConfig& config, const IpxeRequest& req, const BootDecision& d) {
  IpxeAnswer a;
  a.machine_name = d.machine_name;
  a.role = d.role;
  // In full DHCP mode the installer goes only to the address leased to that
  // MAC, and the token is bound to it. In proxy mode another server owns
  // addresses, so the token is bound to the MAC only. Over IPv6 the same
  // holds for the MAC's DHCPv6 lease, when our DHCPv6 gave it one.
  std::optional<Ipv4Address> bound;
  std::optional<Ipv6Address> bound6;
  if (req.family == IpFamily::kIpv6 && req.peer6) {
    const auto binding = DecideIpv6TokenBinding(Ipv6LeaseOf(req.mac), *req.peer6);
    if (binding.kind == Ipv6TokenBinding::Kind::kRefused) {
      ++counters_.configs_refused;
      a.kind = IpxeAnswer::Kind::kRefused;
      a.why = binding.why;
      registry_.RecordEvent(req.mac, "boot", a.why);
      return a;
    }
    bound6 = binding.bound;
  }
  if (config.dhcp.mode == DhcpMode::kFull && req.family == IpFamily::kIpv4) {
    const auto leased = registry_.AddressOf(req.mac);
    if (!leased || *leased != req.peer) {
      ++counters_.configs_refused;
      a.kind = IpxeAnswer::Kind::kRefused;
      a.why = "installer refused to " + req.peer.ToString() + ": " +
              (leased ? "that MAC holds " + leased->ToString() : std::string("no lease for that MAC"));
      registry_.RecordEvent(req.mac, "boot", a.why);
      return a;
    }
    bound = req.peer;
  }
  const bool wipe = jobs_ && jobs_->WipeRequested(req.mac);
  a.kind = IpxeAnswer::Kind::kInstall;
  a.assets = ProfileAssetUrlsFor(config.server, d.profile->name, req.family);
  a.profile = d.profile->name;
  a.why = d.why;
  a.uki = SecureBootFor(config, d.machine) == SecureBootChain::kUki;
  const ConfigDelivery delivery = d.machine ? ConfigDeliveryFor(config, *d.machine)
                                            : d.profile->config_delivery.value_or(ConfigDelivery::kUrl);
  if (delivery == ConfigDelivery::kApply) {
    // No token and no config on the wire: Talos boots into maintenance mode
    // and the cluster driver applies the config over TLS at this address.
    a.kernel_args = TalosKernelArgs(config.server, *d.profile, d.machine, "", wipe, req.family);
    registry_.Apply(req.mac, LifecycleEvent::kInstallerServed,
                    "installer served (profile " + d.profile->name + ", role " + std::string(RoleName(d.role)) +
                        ", config by apply to " + PeerText(req) + ")");
    {
      std::lock_guard lock(apply_mu_);
      SetApplyTargetLocked(ConfigApplyTarget{req.mac, d.machine_name, req.peer});
    }
    ++counters_.install_scripts;
    if (jobs_) jobs_->InstallerServed(req.mac);
    return a;
  }
  {
    // Installed by URL this time: an earlier apply target (a reinstall by
    // apply that never finished) must not get a config pushed at this boot.
    std::lock_guard lock(apply_mu_);
    ClearApplyTargetLocked(req.mac);
  }
  const IssuedToken token =
      bound6 ? tokens_.Issue(req.mac, *bound6, TokenClock::now()) : tokens_.Issue(req.mac, bound, TokenClock::now());
  a.kernel_args = TalosKernelArgs(config.server, *d.profile, d.machine,
                                  ConfigUrl(config.server, token.token, req.family), wipe, req.family);
  registry_.Apply(req.mac, LifecycleEvent::kInstallerServed,
                  "installer served (profile " + d.profile->name + ", role " + std::string(RoleName(d.role)) + ")");
  if (token.fresh) {
    ++counters_.tokens_issued;
    registry_.RecordEvent(req.mac, "config-token",
                          "config token issued" + (bound    ? " for " + bound->ToString()
                                                   : bound6 ? " for " + bound6->ToString()
                                                            : std::string()));
  }
  ++counters_.install_scripts;
  if (jobs_) jobs_->InstallerServed(req.mac);
  return a;
}

std::string ProvisioningService::ThroughAppliance() const {
  // Several appliances serve configs: the event says which one did.
  if (!options_.shared_store || options_.appliance.empty()) return "";
  return " through " + options_.appliance;
}

ConfigAnswer ProvisioningService::OnConfigFetch(std::string_view token, const IpAddress& peer) {
  ConfigAnswer a;
  auto mac = tokens_.Redeem(token, peer, TokenClock::now());
  if (!mac.ok()) {
    ++counters_.configs_refused;
    const auto why = TokenRejectionOf(mac.status());
    const std::string reason(why ? TokenRejectionName(*why) : std::string_view("invalid"));
    a.why = "config fetch from " + peer.ToString() + " refused: " + reason;
    // The token is not the machine's to name here: it is known by address.
    RecordTimelineByAddress(peer, TimelineSource::kHttp,
                            {"HTTP GET /config: refused (" + reason + ")", "peer=" + peer.ToString() + " why=" + reason});
    return a;
  }
  const auto config = config_.Current();
  const auto machine = MachineToInstall(*config, *mac);
  if (!machine) {
    // Removed from the inventory since its script was served.
    ++counters_.configs_refused;
    a.why = "config fetch refused: " + mac->ToString() + " is no longer in the inventory";
    RecordTimeline(*mac, TimelineSource::kHttp,
                   {"HTTP GET /config: refused (no longer in the inventory)", "peer=" + peer.ToString()});
    registry_.RecordEvent(*mac, "config-fetch", "refused: no longer in the inventory" + ThroughAppliance());
    return a;
  }
  auto rendered = RenderMachineConfig(*config, *machine);
  if (!rendered.ok()) {
    ++counters_.configs_failed;
    a.kind = ConfigAnswer::Kind::kFailed;
    a.why = "config rendering failed for " + machine->name + ": " + rendered.status().message();
    RecordTimeline(*mac, TimelineSource::kHttp, {"HTTP GET /config: rendering failed", "peer=" + peer.ToString()});
    registry_.Apply(*mac, LifecycleEvent::kInstallFailed, "config rendering failed", rendered.status().message());
    return a;
  }
  ++counters_.configs_served;
  RecordTimeline(*mac, TimelineSource::kHttp,
                 {"HTTP GET /config: granted to " + peer.ToString(),
                  "peer=" + peer.ToString() + " machine=" + machine->name + " bytes=" + std::to_string(rendered->size())});
  registry_.Apply(*mac, LifecycleEvent::kConfigFetched, "config fetched by " + peer.ToString() + ThroughAppliance());
  a.kind = ConfigAnswer::Kind::kServed;
  a.yaml = std::move(*rendered);
  return a;
}

std::vector<ConfigApplyTarget> ProvisioningService::ConfigApplyTargets() const {
  std::vector<ConfigApplyTarget> out;
  std::lock_guard lock(apply_mu_);
  for (const auto& [mac, t] : apply_targets_)
    if (registry_.StateOf(mac) == MachineState::kPendingInstall) out.push_back(t);
  return out;
}

Result<Secret> ProvisioningService::ConfigToApply(const MacAddress& mac) {
  const auto config = config_.Current();
  const auto machine = MachineToInstall(*config, mac);
  if (!machine) return Status(ErrorCode::kNotFound, mac.ToString() + " is no longer in the inventory");
  auto rendered = RenderMachineConfig(*config, *machine);
  if (!rendered.ok()) {
    ++counters_.configs_failed;
    registry_.Apply(mac, LifecycleEvent::kInstallFailed, "config rendering failed", rendered.status().message());
    return rendered.status();
  }
  return Secret(std::move(rendered).value());
}

void ProvisioningService::OnConfigApplied(const MacAddress& mac, Ipv4Address address, const std::string& mode) {
  {
    std::lock_guard lock(apply_mu_);
    ClearApplyTargetLocked(mac);
  }
  ++counters_.configs_applied;
  // Talos answered there: where the cluster driver follows it from now on.
  // (The installer may have been served by another appliance, whose
  // sighting of that address this one may not have merged yet.)
  registry_.ObserveBoot({mac, address, "", "", "", ""});
  registry_.Apply(mac, LifecycleEvent::kConfigFetched,
                  "config applied over TLS to " + address.ToString() + " (" + mode + ")" + ThroughAppliance());
}

void ProvisioningService::AwaitConfigApply(const MacAddress& mac, const std::string& machine, Ipv4Address address) {
  std::lock_guard lock(apply_mu_);
  SetApplyTargetLocked(ConfigApplyTarget{mac, machine, address});
}

void ProvisioningService::OnConfigRejected(const MacAddress& mac, const std::string& reason) {
  {
    std::lock_guard lock(apply_mu_);
    ClearApplyTargetLocked(mac);
  }
  registry_.Apply(mac, LifecycleEvent::kInstallFailed, "config rejected by Talos", reason);
}

void ProvisioningService::OnTalosEvent(const TalosEvent& ev) {
  const IpAddress from = ev.peer6 ? IpAddress(*ev.peer6) : IpAddress(ev.peer);
  const auto mac = MacForPeer(from);
  if (!mac) {
    spdlog::debug("talos event {} from {}: no machine has that address", ev.type, from.ToString());
    return;
  }
  const std::string summary = TalosEventSummary(ev);
  registry_.RecordEvent(*mac, "talos", summary);
  if (TalosEventForTimeline(ev)) {
    std::string details = "type=" + ev.type;
    if (!ev.error_code.empty()) details += " code=" + ev.error_code;
    RecordTimeline(*mac, TimelineSource::kTalos, {TalosTimelineSummary(ev), details});
  }
  const bool installing = registry_.StateOf(*mac) == MachineState::kInstalling;
  const auto signal = InterpretTalosEvent(ev, installing);
  if (!signal) return;
  switch (signal->kind) {
    case InstallSignal::Kind::kInstalling:
      registry_.Apply(*mac, LifecycleEvent::kInstallStarted, "talos: " + summary);
      break;
    case InstallSignal::Kind::kInstalled:
      registry_.Apply(*mac, LifecycleEvent::kInstallFinished, "talos: " + summary);
      break;
    case InstallSignal::Kind::kFailed:
      registry_.Apply(*mac, LifecycleEvent::kInstallFailed, "talos: " + ev.type, signal->reason);
      break;
  }
}

std::string ProvisioningService::LogKeyFor(const IpAddress& peer) const {
  const auto mac = MacForPeer(peer);
  if (!mac) return "";
  const auto rec = registry_.Get(*mac);
  return rec && !rec->name.empty() ? rec->name : mac->ToString();
}

Status ProvisioningService::RequestReinstall(const MacAddress& mac, bool wipe) {
  if (!jobs_) return {ErrorCode::kFailedPrecondition, "this appliance has no power control"};
  return jobs_->Request(mac, wipe);
}

void ProvisioningService::Power(const MacAddress& mac, PowerAction action,
                                std::function<void(Result<std::string>)> done) {
  if (!jobs_) return done(Status{ErrorCode::kFailedPrecondition, "this appliance has no power control"});
  jobs_->Power(mac, action, std::move(done));
}

Result<MacAddress> ProvisioningService::Accept(const AcceptRequest& request) {
  std::lock_guard lock(accept_mu_);
  const auto config = config_.Current();
  auto mac = ValidateAccept(*config, request);
  if (!mac.ok()) return mac.status();
  const auto seen = registry_.Get(*mac);
  if (!seen || seen->state != MachineState::kDiscovered)
    return Status{ErrorCode::kNotFound, "no discovered machine with MAC " + mac->ToString()};
  if (auto st = AppendAcceptedMachine(AcceptedMachinesFile(config->server), *mac, request); !st.ok()) return st;
  return *mac;
}

void ProvisioningService::OnInventoryChanged(const AppConfig& fresh) { registry_.OnInventoryChanged(fresh); }

}  // namespace metalpxe
