#include "daemon/appliance_modules.h"

#include "api/event_sink_server.h"
#include "api/kmsg_log_receiver.h"
#include "api/talos_install_signal.h"
#include "core/install/config_tokens.h"
#include "core/log.h"
#include "core/machine_registry.h"
#include "core/store/sqlite_store.h"
#include "daemon/appliance_metrics.h"
#include "daemon/profile_assets.h"
#include "daemon/reinstall_orchestrator.h"
#include "daemon/management_backend_impl.h"
#include "api/management/management_service.h"
#include "api/management/pki.h"

#include <unistd.h>
#include "dhcp/server.h"
#include "http/boot_endpoints.h"
#include "http/http_server.h"
#include "pxe/tftp/tftp_server.h"

namespace metalpxe {
namespace {

// DHCP option 93 (RFC 4578 / IANA processor architecture types) in words.
std::string ArchName(std::optional<std::uint16_t> arch) {
  if (!arch) return "";
  switch (*arch) {
    case 0: return "bios";
    case 6: return "efi-ia32";
    case 7:
    case 9: return "efi-x64";
    case 10: return "efi-arm32";
    case 11: return "efi-arm64";
    case 16: return "efi-x64-http";
    case 19: return "efi-arm64-http";
    default: return "arch-" + std::to_string(*arch);
  }
}

}  // namespace

struct ApplianceModules::Impl {
  boost::asio::io_context& io;
  SwappableConfigSource& source;
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<MachineRegistry> registry;
  std::unique_ptr<ConfigTokenIssuer> tokens;
  std::unique_ptr<dhcp::DhcpServer> dhcp;
  std::unique_ptr<tftp::TftpServer> tftp;
  std::unique_ptr<http::HttpServer> http;
  std::unique_ptr<http::BootEndpoints> boot;
  std::unique_ptr<EventSinkServer> events;
  std::unique_ptr<KmsgLogReceiver> kmsg;
  std::unique_ptr<AssetCache> assets;
  std::unique_ptr<ReinstallOrchestrator> reinstall;
  std::unique_ptr<ApplianceManagementBackend> mgmt_backend;
  std::unique_ptr<ManagementServer> mgmt;
  std::function<bool()> reload;
  bool stopped = false;

  Impl(boost::asio::io_context& i, SwappableConfigSource& s) : io(i), source(s) {}

  void OnDhcp(const dhcp::DhcpObservation& o) {
    const auto config = source.Current();
    const bool pxe = o.is_ipxe || o.vendor_class.rfind("PXEClient", 0) == 0 ||
                     o.vendor_class.rfind("HTTPClient", 0) == 0;
    // Only boot clients are machines to discover; for everyone else we only
    // keep track of addresses of machines we already know (the installer's
    // own DHCP is not a PXE client).
    const bool known = MachineRegistry::InventoryMachine(*config, o.mac) || registry->Get(o.mac).has_value();
    if (!pxe && !known) return;
    BootObservation seen;
    seen.mac = o.mac;
    if (!o.leased_ip.IsUnspecified()) seen.ip = o.leased_ip;
    seen.uuid = o.uuid;
    seen.arch = ArchName(o.client_arch);
    seen.vendor_class = o.vendor_class;
    registry->ObserveBoot(seen);
  }

  void OnTalosEvent(const TalosEvent& ev) {
    const auto mac = registry->MacForAddress(ev.peer);
    if (!mac) {
      spdlog::info("talos event {} from {}: no machine has that address", ev.type, ev.peer.ToString());
      return;
    }
    std::string summary = ev.type;
    if (!ev.name.empty()) summary += " " + ev.name;
    if (!ev.action.empty()) summary += " " + ev.action;
    if (!ev.stage.empty()) summary += " stage " + ev.stage;
    if (!ev.error.empty()) summary += ": " + ev.error;
    registry->RecordEvent(*mac, "talos", summary);
    const bool installing = registry->StateOf(*mac) == MachineState::kInstalling;
    const auto signal = InterpretTalosEvent(ev, installing);
    if (!signal) return;
    switch (signal->kind) {
      case InstallSignal::Kind::kInstalling:
        registry->Apply(*mac, LifecycleEvent::kInstallStarted, "talos: " + summary);
        break;
      case InstallSignal::Kind::kInstalled:
        registry->Apply(*mac, LifecycleEvent::kInstallFinished, "talos: " + summary);
        break;
      case InstallSignal::Kind::kFailed:
        registry->Apply(*mac, LifecycleEvent::kInstallFailed, "talos: " + ev.type, signal->reason);
        break;
    }
  }

  std::string LogKey(Ipv4Address peer) const {
    const auto mac = registry->MacForAddress(peer);
    if (!mac) return "";
    const auto rec = registry->Get(*mac);
    return rec && !rec->name.empty() ? rec->name : mac->ToString();
  }

  Status Start() {
    const auto config = source.Current();
    const ServerConfig& server = config->server;

    auto opened = SqliteStore::Open(server.state_dir);
    if (!opened.ok()) return opened.status();
    store = std::move(*opened);

    registry = std::make_unique<MachineRegistry>(source, store.get());
    if (auto st = registry->Load(); !st.ok()) return st;

    tokens = std::make_unique<ConfigTokenIssuer>(
        ConfigTokenOptions::FromBootConfig(config->boot), store.get(),
        [this](const MacAddress& mac, Ipv4Address peer) { return registry->AddressOf(mac) == peer; });
    if (auto n = tokens->LoadFrom(*store); n.ok() && *n > 0) spdlog::info("{} config tokens still valid", *n);

    if (config->dhcp.mode != DhcpMode::kOff) {
      dhcp = std::make_unique<dhcp::DhcpServer>(io, source, *store,
                                                [this](const dhcp::DhcpObservation& o) { OnDhcp(o); });
      if (auto st = dhcp->Start(); !st.ok()) return {st.code(), "dhcp: " + st.message()};
    }

    tftp::TftpOptions topt;
    topt.root = server.tftp_root;
    topt.port = server.tftp_port;
    topt.interface = server.interface;
    tftp = std::make_unique<tftp::TftpServer>(io, topt);
    if (auto st = tftp->Start(); !st.ok()) return {st.code(), "tftp: " + st.message()};

    http::HttpServerOptions hopt;
    hopt.port = server.http_port;
    hopt.threads = 4;
    http = std::make_unique<http::HttpServer>(hopt);
    ReinstallOptions ropt;
    ropt.power.interface = server.interface;  // wake-on-LAN leaves where machines are
    reinstall = std::make_unique<ReinstallOrchestrator>(io, source, *registry, *tokens, ropt);
    http::BootHooks hooks;
    hooks.wipe_requested = [this](const MacAddress& mac) { return reinstall->WipeRequested(mac); };
    hooks.installer_served = [this](const MacAddress& mac) { reinstall->InstallerServed(mac); };
    boot = std::make_unique<http::BootEndpoints>(source, *registry, *tokens, hooks);
    boot->Register(*http);
    // iPXE binaries (UEFI HTTP boot fetches snponly.efi here), and each
    // profile's kernel + initramfs once resolved (downloads run off the loop).
    http->ServeFiles("/assets", {server.tftp_root});
    http->ServeFiles("/assets/profiles", {ProfileAssetsDir(server)});
    assets = std::make_unique<AssetCache>(server.state_dir);
    PublishProfiles(*config);
    http->Handle("/metrics", [this](const http::HttpRequest&) {
      return http::HttpResponse::Text(200, CollectMetrics(), "text/plain; version=0.0.4");
    });
    if (auto st = http->Start(); !st.ok()) return {st.code(), "http: " + st.message()};

    events = std::make_unique<EventSinkServer>("0.0.0.0", server.event_sink_port,
                                               [this](const TalosEvent& ev) { OnTalosEvent(ev); });
    if (auto st = events->Start(); !st.ok()) return {st.code(), "event sink: " + st.message()};

    KmsgLogReceiverOptions kopt;
    kopt.port = server.kmsg_log_port;
    kopt.store.log_dir = std::filesystem::path(server.state_dir) / "logs";
    kmsg = std::make_unique<KmsgLogReceiver>(io, kopt, [this](Ipv4Address peer) { return LogKey(peer); });
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
    auto pki = EnsureApiPki(server.state_dir, api_address, host, port);
    if (!pki.ok()) return pki.status();
    ManagementParts parts;
    parts.config = &source;
    parts.registry = registry.get();
    parts.reinstall = reinstall.get();
    parts.dhcp = dhcp.get();
    parts.kmsg = kmsg.get();
    parts.assets = assets.get();
    parts.reload = [this] { return reload && reload(); };
    mgmt_backend = std::make_unique<ApplianceManagementBackend>(std::move(parts));
    mgmt = std::make_unique<ManagementServer>(server.api_listen, *pki, *mgmt_backend);
    if (auto st = mgmt->Start(); !st.ok()) return st;
    spdlog::info("management API on {} (client config: {})", server.api_listen, pki->client_config_path);
    return Status::Ok();
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
    in.registry = registry.get();
    if (dhcp) in.dhcp = dhcp->Stats();
    if (tftp) in.tftp = tftp->Stats();
    if (http) in.http = http->Stats();
    if (boot) in.boot = &boot->counters();
    if (events) in.events = events->counters();
    if (kmsg) in.kmsg = kmsg->counters();
    if (reinstall) in.power_actions = std::make_pair(reinstall->power_actions_ok(), reinstall->power_actions_failed());
    return RenderApplianceMetrics(in);
  }

  void Stop() {
    if (stopped) return;
    stopped = true;
    if (mgmt) mgmt->Shutdown();
    if (events) events->Shutdown();
    if (http) http->Stop();
    if (kmsg) kmsg->Stop();
    if (tftp) tftp->Stop();
    if (dhcp) dhcp->Stop();
    reinstall.reset();  // waits for a power action in flight
    assets.reset();  // cancels a running download
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
void ApplianceModules::OnConfigReloaded(const AppConfig& fresh) {
  impl_->registry->OnInventoryChanged(fresh);
  impl_->PublishProfiles(fresh);  // profiles may have changed kernels or versions
}

}  // namespace metalpxe
