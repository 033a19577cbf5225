#include "daemon/appliance_modules.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>

#include <boost/asio/post.hpp>

#include "api/event_sink_server.h"
#include "api/kmsg_log_receiver.h"
#include "api/management/management_service.h"
#include "api/management/pki.h"
#include "core/install/token_key.h"
#include "core/log.h"
#include "core/provisioning/provisioning_service.h"
#include "daemon/appliance_metrics.h"
#include "daemon/asio_scheduler.h"
#include "daemon/cluster_driver.h"
#include "daemon/cluster_leadership.h"
#include "daemon/cluster_upgrade_driver.h"
#include "daemon/dhcp_elections.h"
#include "daemon/loader_presence.h"
#include "daemon/management_backend_impl.h"
#include "daemon/profile_assets.h"
#include "dhcp/server.h"
#include "dhcp/v6/server6.h"
#include "etcd/etcd_store.h"
#include "etcd/open_store.h"
#include "http/boot_endpoints.h"
#include "http/http_server.h"
#include "ipmi/driver_power_control.h"
#include "pxe/grub_tftp_files.h"
#include "pxe/tftp/tftp_server.h"
#include "ui/ui_password.h"
#include "ui/ui_server.h"

namespace metalpxe {

struct ApplianceModules::Impl {
  boost::asio::io_context& io;
  SwappableConfigSource& source;
  std::unique_ptr<Store> store;  // SQLite in stateDir, or etcd shared by several appliances
  SharedValues* shared = nullptr;  // the etcd store's shared values (token key, API CA); null on SQLite
  std::unique_ptr<AsioScheduler> scheduler;
  std::unique_ptr<DriverPowerControl> power;
  std::unique_ptr<LoaderPresence> loaders;
  std::unique_ptr<ProvisioningService> service;
  // etcd store: one appliance at a time does each cluster's work (null on SQLite)
  std::unique_ptr<EtcdClusterLeadership> cluster_leadership;
  std::atomic<ClusterDriver*> round_on_leadership{nullptr};  // its elections ask it for a round
  std::unique_ptr<ClusterDriver> clusters;  // named clusters: running state, bootstrap
  std::unique_ptr<ClusterUpgradeDriver> upgrades;  // metalpxectl upgrade; its records pin profile versions
  std::unique_ptr<dhcp::DhcpServer> dhcp;
  std::unique_ptr<dhcp6::Dhcp6Server> dhcp6;  // dhcp6.mode full|proxy (leases in memory)
  std::unique_ptr<DhcpElections> elections;  // etcd store, full mode: one leader per subnet answers
  std::unique_ptr<GrubTftpFiles> grub_files;  // before tftp: its transfers ask it
  std::unique_ptr<tftp::TftpServer> tftp;
  std::unique_ptr<tftp::TftpServer> tftp6;  // with server.address6
  std::unique_ptr<http::HttpServer> http;
  std::unique_ptr<http::BootEndpoints> boot;
  std::unique_ptr<EventSinkServer> events;
  std::unique_ptr<KmsgLogReceiver> kmsg;
  std::unique_ptr<AssetCache> assets;
  std::unique_ptr<ApplianceManagementBackend> mgmt_backend;
  std::unique_ptr<ManagementServer> mgmt;
  std::unique_ptr<ui::UiServer> ui;
  std::function<bool()> reload;
  bool stopped = false;

  Impl(boost::asio::io_context& i, SwappableConfigSource& s) : io(i), source(s) {}

  static DhcpSighting SightingOf(const dhcp::DhcpObservation& o) {
    DhcpSighting seen;
    seen.mac = o.mac;
    if (!o.leased_ip.IsUnspecified()) seen.leased = o.leased_ip;
    seen.client = o.client;
    seen.vendor_class = o.vendor_class;
    seen.uuid = o.uuid;
    // The lease granted once its write is durable comes as an ACK observed
    // a second time: not a new exchange for the timeline.
    const bool received = o.message_type != dhcp::MessageType::kAck;
    auto name = [](dhcp::MessageType t) {
      std::string_view n = dhcp::MessageTypeName(t);  // "DHCPDISCOVER"
      if (n.substr(0, 4) == "DHCP") n.remove_prefix(4);
      return std::string(n);
    };
    if (received) {
      seen.received = name(o.message_type);
      if (o.reply_type) seen.replied = name(*o.reply_type);
      if (!o.offered.IsUnspecified()) seen.offered = o.offered;
      seen.boot_file = o.boot_file;
      seen.boot_why = o.boot_why;
      seen.proxy = o.proxy;
    }
    return seen;
  }

  Status Start() {
    const auto config = source.Current();
    const ServerConfig& server = config->server;

    auto opened = etcd::OpenConfiguredStore(*config);
    if (!opened.ok()) return {opened.status().code(), "store: " + opened.status().message()};
    store = std::move(opened->store);
    spdlog::info("store: {}", opened->description);
    // A shared store (etcd) also holds what every appliance must agree on:
    // the config token key here, the API CA in StartManagementApi.
    shared = dynamic_cast<SharedValues*>(store.get());
    auto key = shared ? LoadOrCreateSharedTokenKey(*shared, server.state_dir) : LoadOrCreateTokenKey(server.state_dir);
    if (!key.ok()) return key.status();
    if (shared) spdlog::info("config tokens: signed with the key shared through the store");

    scheduler = std::make_unique<AsioScheduler>(io);
    PowerContext power_context;
    power_context.interface = server.interface;  // wake-on-LAN leaves where machines are
    // Hetzner Robot: the web service (a fixture in tests) and the CA to trust
    // for it; each machine's rescue key comes with its bmc settings.
    power_context.robot_base_url = config->power.hetzner_robot.url;
    power_context.robot_ca_file = config->power.hetzner_robot.ca_file;
    power = std::make_unique<DriverPowerControl>(
        io, power_context, MakePowerDriver, [this](const ProfileConfig& profile) -> Result<DiskImageInstall> {
          auto image = assets->ResolveDiskImage(profile);
          if (!image.ok()) return image.status();
          return DiskImageInstall{image->path, image->sha256, image->compression, ""};
        });
    loaders = std::make_unique<LoaderPresence>(server.tftp_root, ProfileAssetsDir(server));
    ProvisioningOptions options;
    options.token_key = *key;
    options.loader_exists = [this](std::string_view file) { return loaders->Exists(file); };
    options.shared_store = shared != nullptr;  // token fetch counts across appliances
    if (shared) options.appliance = DhcpCandidateName(server.address);
    service = std::make_unique<ProvisioningService>(source, store.get(), options, power.get(), scheduler.get());
    if (auto st = service->Load(); !st.ok()) return st;
    ClusterUpgradeOptions upgrade_options;
    ClusterDriverOptions cluster_options;
    if (auto* etcd_store = dynamic_cast<etcd::EtcdStore*>(store.get())) {
      // One appliance at a time bootstraps, upgrades and applies configs for
      // a cluster; a change of role asks for a round at once (a standby
      // taking over does not wait for the next tick).
      ClusterElectionOptions ceo;
      ceo.prefix = config->store.prefix;
      ceo.candidate = DhcpCandidateName(server.address);
      cluster_leadership = std::make_unique<EtcdClusterLeadership>(
          etcd_store->client(), ceo, [this](const std::string&) {
            if (auto* c = round_on_leadership.load()) c->RequestRound();
          });
      std::vector<std::string> names;
      for (const auto& [name, c] : config->clusters) names.push_back(name);
      cluster_leadership->Campaign(names);
      upgrade_options.leadership = cluster_leadership.get();
      cluster_options.leadership = cluster_leadership.get();
    }
    upgrades = std::make_unique<ClusterUpgradeDriver>(source, service->registry(), store.get(), upgrade_options);
    if (auto st = upgrades->Load(); !st.ok()) return {st.code(), "upgrades: " + st.message()};
    if (shared) {
      // Other appliances bootstrap, upgrade and install too: each round (10 s)
      // reads their records.
      cluster_options.shared_store = true;
      cluster_options.each_round = [this] {
        upgrades->Reread();
        // A run whose leader died or stepped down goes on here once this
        // appliance leads the cluster.
        upgrades->ResumeLedRuns();
        // Machines changed through other appliances: listed the same by every one.
        if (auto merged = service->registry().MergeFromStore(); !merged.ok())
          spdlog::warn("machines: cannot read the shared machine records: {}", merged.status().ToString());
        // Targets registered through any appliance: applied by the leader.
        if (auto st = service->ReloadApplyTargets(); !st.ok())
          spdlog::warn("config apply: cannot read the shared targets: {}", st.ToString());
      };
    }
    clusters = std::make_unique<ClusterDriver>(source, service->registry(), store.get(), *scheduler, cluster_options);
    if (auto st = clusters->Load(); !st.ok()) return {st.code(), "clusters: " + st.message()};
    clusters->SetConfigApplier(service.get());
    PinVersions();  // before anything boots: a reinstall installs what the cluster was upgraded to
    upgrades->SetOnPinsChanged([this] {
      boost::asio::post(io, [this] {
        if (!stopped && PinVersions()) PublishProfiles(*source.Current());
      });
    });
    round_on_leadership = clusters.get();
    clusters->Start();  // after the pins: its rounds may change them (shared store)

    if (config->dhcp.mode != DhcpMode::kOff) {
      dhcp = std::make_unique<dhcp::DhcpServer>(
          io, source, *store, [this](const dhcp::DhcpObservation& o) { service->OnDhcp(SightingOf(o)); },
          [this](const BootClient& client, const MacAddress& mac) { return service->LoaderFor(client, mac); });
      auto* shared = dynamic_cast<etcd::EtcdStore*>(store.get());
      const bool elect = shared != nullptr && config->dhcp.mode == DhcpMode::kFull;
      std::vector<Ipv4Cidr> subnets;
      for (const auto& s : config->dhcp.subnets) subnets.push_back(s.subnet);
      if (elect) {
        // Several appliances may share this store: answer nothing until
        // elected, not even the first packet after the socket opens.
        dhcp->SetLeadership(StandbyLeadership(subnets));
      }
      if (auto st = dhcp->Start(); !st.ok()) return {st.code(), "dhcp: " + st.message()};
      if (elect) {
        DhcpElectionOptions eo;
        eo.prefix = config->store.prefix;
        eo.candidate = DhcpCandidateName(server.address);
        elections = std::make_unique<DhcpElections>(io, shared->client(), *dhcp, std::move(subnets), eo);
      }
    }

    if (config->dhcp6.mode != DhcpMode::kOff) {
      dhcp6 = std::make_unique<dhcp6::Dhcp6Server>(
          io, source, [this](const BootClient& client, const MacAddress& mac) { return service->LoaderFor(client, mac); },
          [this](const dhcp6::Observation6& o) {
            if (!o.mac) return;
            DhcpSighting seen;
            seen.mac = *o.mac;
            seen.client = o.client;
            seen.vendor_class = o.vendor_class;
            seen.uuid = o.uuid;
            seen.received = "DHCPv6 " + std::string(dhcp6::MsgTypeName(o.received));
            if (o.replied) seen.replied = std::string(dhcp6::MsgTypeName(*o.replied));
            seen.boot_file = o.boot_file;
            seen.boot_why = o.why;
            seen.proxy = source.Current()->dhcp6.mode == DhcpMode::kProxy;
            if (o.bound && o.address) {
              seen.leased6 = o.address;
              seen.leased6_until = o.valid_until;
            }
            seen.released6 = o.released;
            service->OnDhcp(seen);
          });
      if (auto st = dhcp6->Start(); !st.ok()) return {st.code(), st.message()};
    }

    tftp::TftpOptions topt;
    topt.root = server.tftp_root;
    topt.port = server.tftp_port;
    topt.interface = server.interface;
    topt.observer = [this](const tftp::TftpTransferReport& r) {
      service->OnTftpFetch(r.peer, {r.file, r.size, r.duration, r.retransmits, r.block_size, r.window_size, r.ok,
                                    r.error});
    };
    // The Secure Boot chain's GRUB configs, kernels and initramfs (docs/secureboot.md).
    grub_files = std::make_unique<GrubTftpFiles>(source, *service);
    topt.virtual_files = [files = grub_files.get()](std::string_view name, Ipv4Address peer) {
      return files->Open(name, peer);
    };
    tftp = std::make_unique<tftp::TftpServer>(io, topt);
    if (auto st = tftp->Start(); !st.ok()) return {st.code(), "tftp: " + st.message()};
    if (server.address6) {
      // DHCPv6 hands out tftp://[address6]/file: a second listener, IPv6 only.
      tftp::TftpOptions topt6 = topt;
      topt6.ipv6 = true;
      tftp6 = std::make_unique<tftp::TftpServer>(io, topt6);
      if (auto st = tftp6->Start(); !st.ok()) return {st.code(), "tftp (IPv6): " + st.message()};
    }

    http::HttpServerOptions hopt;
    hopt.port = server.http_port;
    hopt.threads = 4;
    hopt.dual_stack = server.address6.has_value();  // IPv6 boot URLs name server.address6
    hopt.file_observer = [this](const http::HttpFileReport& r) {
      service->OnHttpFileFetch(r.peer, {r.path, r.status, r.bytes, r.duration, r.completed});
    };
    http = std::make_unique<http::HttpServer>(hopt);
    boot = std::make_unique<http::BootEndpoints>(source, *service);
    boot->Register(*http);
    // iPXE binaries (UEFI HTTP boot fetches snponly.efi here), and each
    // profile's kernel + initramfs once resolved (downloads run off the loop).
    http->ServeFiles(std::string(kAssetsPrefix), {server.tftp_root});
    http->ServeFiles(std::string(kProfileAssetsPrefix), {ProfileAssetsDir(server)});
    assets = std::make_unique<AssetCache>(server.state_dir);
    PublishProfiles(*source.Current());  // with the upgrade pins
    http->Handle(std::string(kMetricsPath), [this](const http::HttpRequest&) {
      return http::HttpResponse::Text(200, CollectMetrics(), "text/plain; version=0.0.4");
    });
    if (auto st = http->Start(); !st.ok()) return {st.code(), "http: " + st.message()};

    // With server.address6 the kernel args name [address6] for the sink and
    // the kernel-log receiver: both listen dual-stack on [::].
    const std::string talos_listen = server.address6 ? "::" : "0.0.0.0";
    events = std::make_unique<EventSinkServer>(talos_listen, server.event_sink_port,
                                               [this](const TalosEvent& ev) { service->OnTalosEvent(ev); });
    if (auto st = events->Start(); !st.ok()) return {st.code(), "event sink: " + st.message()};

    KmsgLogReceiverOptions kopt;
    kopt.listen_address = talos_listen;
    kopt.port = server.kmsg_log_port;
    kopt.store.log_dir = std::filesystem::path(server.state_dir) / "logs";
    kopt.line_observer = [this](const IpAddress& peer, const KmsgLine& line) { service->OnKernelLog(peer, line.msg); };
    kmsg = std::make_unique<KmsgLogReceiver>(io, kopt,
                                             [this](const IpAddress& peer) { return service->LogKeyFor(peer); });
    if (auto st = kmsg->Start(); !st.ok()) return {st.code(), "kernel logs: " + st.message()};
    if (auto st = StartManagementApi(server); !st.ok()) return {st.code(), "management API: " + st.message()};
    return Status::Ok();
  }

  Status StartManagementApi(const ServerConfig& server) {
    const auto colon = server.api_listen.rfind(':');
    const auto port = static_cast<std::uint16_t>(std::stoi(server.api_listen.substr(colon + 1)));
    // The address metalpxectl dials (and the server certificate names): the
    // one apiListen binds, or the appliance's own address when it binds all.
    Ipv4Address api_address = server.address;
    if (auto listen = Ipv4Address::Parse(server.api_listen.substr(0, colon)); listen && !listen->IsUnspecified())
      api_address = *listen;
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    auto pki = EnsureApiPki(server.state_dir, api_address, host, port, shared);
    if (!pki.ok()) return pki.status();
    ManagementParts parts;
    parts.config = &source;
    parts.service = service.get();
    parts.dhcp = dhcp.get();
    parts.kmsg = kmsg.get();
    parts.assets = assets.get();
    parts.clusters = clusters.get();
    parts.upgrades = upgrades.get();
    parts.reload = [this] { return reload && reload(); };
    if (elections) parts.store_health = [this] { return elections->StoreHealth(); };
    mgmt_backend = std::make_unique<ApplianceManagementBackend>(std::move(parts));
    mgmt = std::make_unique<ManagementServer>(server.api_listen, *pki, *mgmt_backend);
    if (auto st = mgmt->Start(); !st.ok()) return st;
    spdlog::info("management API on {} (client config: {})", server.api_listen, pki->client_config_path);
    if (server.ui_listen != "off") {
      ui::UiServerOptions uopt;
      uopt.listen = server.ui_listen;
      uopt.state_dir = server.state_dir;
      ui = std::make_unique<ui::UiServer>(uopt, *mgmt_backend);
      if (auto st = ui->Start(); !st.ok()) return st;
      spdlog::info("status page on http://{}/{}", server.ui_listen,
                   ui::ReadUiPasswordFile(server.state_dir).ok() ? "" : " (no password yet: metalpxed --set-ui-password)");
    }
    return Status::Ok();
  }

  // The running config with the stored upgrades' version pins
  // (core/cluster_upgrade.h); true when a profile changed.
  bool PinVersions() {
    auto pinned = std::make_shared<AppConfig>(*source.Current());
    if (!PinVersionsOf(*pinned)) return false;
    source.Swap(pinned);
    return true;
  }
  bool PinVersionsOf(AppConfig& config) const {
    if (!upgrades) return false;
    const PinOutcome o = ApplyUpgradePins(config, upgrades->Records());
    for (const auto& p : o.pinned) spdlog::info("upgrade: profile {}", p);
    for (const auto& c : o.conflicts) spdlog::warn("upgrade: version not pinned: {}", c);
    return !o.pinned.empty();
  }

  void PublishProfiles(const AppConfig& config) {
    PublishAllProfiles(*assets, config, [](const std::string& profile, const Status& st) {
      if (st.ok())
        spdlog::info("profile {}: boot assets ready", profile);
      else
        spdlog::error("profile {}: boot assets unavailable: {}", profile, st.ToString());
    });
  }

  std::string CollectMetrics() const {
    ApplianceMetricsInput in;
    in.registry = &service->registry();
    if (dhcp) {
      in.dhcp = dhcp->Stats();
      in.dhcp_reply_latency = dhcp->ReplyLatencies();
      in.dhcp_leadership = dhcp->Leadership();
    }
    if (dhcp6) in.dhcp6 = dhcp6->stats();
    if (elections) in.store_health = elections->StoreHealth();
    if (tftp) in.tftp = tftp->Stats();
    if (http) in.http = http->Stats();
    in.boot = &service->counters();
    if (events) in.events = events->counters();
    if (kmsg) in.kmsg = kmsg->counters();
    in.power_actions = std::make_pair(service->power_actions_ok(), service->power_actions_failed());
    return RenderApplianceMetrics(in);
  }

  void Stop() {
    if (stopped) return;
    stopped = true;
    if (ui) ui->Stop();  // before the backend it reads
    if (mgmt) mgmt->Shutdown();
    if (events) events->Shutdown();
    if (http) http->Stop();
    if (kmsg) kmsg->Stop();
    if (tftp) tftp->Stop();
    if (tftp6) tftp6->Stop();
    elections.reset();  // silent, then resigns: a standby takes over at once
    if (dhcp) dhcp->Stop();
    if (dhcp6) dhcp6->Stop();
    // The cluster work stops before its elections resign (a standby takes
    // over at once and resumes an upgrade from its record).
    if (clusters) clusters->Stop();
    if (upgrades) upgrades->Stop();
    round_on_leadership = nullptr;
    cluster_leadership.reset();
    clusters.reset();  // waits for a round under way (bounded); before the registry it reports to,
                       // and before the upgrades its rounds re-read (shared store)
    upgrades.reset();  // ends runs at their next wait (their records stay running: a re-run resumes)
    service.reset();  // its reinstall jobs, before the power control they call
    power.reset();    // waits for a power action in flight
    assets.reset();   // cancels a running download
    if (store) {
      if (auto st = store->Flush(); !st.ok()) spdlog::error("store flush at shutdown: {}", st.ToString());
    }
  }
};

ApplianceModules::ApplianceModules(boost::asio::io_context& io, SwappableConfigSource& source)
    : impl_(std::make_unique<Impl>(io, source)) {}
ApplianceModules::~ApplianceModules() { Stop(); }
Status ApplianceModules::Start() { return impl_->Start(); }
void ApplianceModules::Stop() { impl_->Stop(); }
void ApplianceModules::SetReload(std::function<bool()> reload) { impl_->reload = std::move(reload); }
void ApplianceModules::PinVersions(AppConfig& fresh) const { impl_->PinVersionsOf(fresh); }
void ApplianceModules::OnConfigReloaded(const AppConfig& fresh) {
  impl_->service->OnInventoryChanged(fresh);
  impl_->PublishProfiles(fresh);  // profiles may have changed kernels or versions
}

}  // namespace metalpxe
