#include "http/boot_endpoints.h"

#include "core/boot_firmware.h"

#include "core/install/machine_config_renderer.h"
#include "core/log.h"
#include "pxe/boot_decision.h"
#include "pxe/ipxe_script.h"
#include "pxe/talos_kernel_args.h"

namespace metalpxe::http {
namespace {

constexpr const char* kIpxeType = "text/plain; charset=utf-8";

HttpResponse Forbidden() { return HttpResponse::Text(403, "forbidden\n"); }

HttpResponse NoStore(HttpResponse r) {
  // Scripts carry one-time tokens and change with the machine's state.
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace

std::optional<MachineConfig> MachineToInstall(const AppConfig& config, const MacAddress& mac) {
  if (const MachineConfig* m = MachineRegistry::InventoryMachine(config, mac)) return *m;
  if (config.boot.unknown_machines != UnknownMachinePolicy::kAutoInstall) return std::nullopt;
  MachineConfig m;
  m.name = AutoInstallName(mac.ToString());
  m.macs = {mac};
  m.role = config.boot.default_role;
  m.profile = config.boot.default_profile;
  return m;
}

BootEndpoints::BootEndpoints(const ConfigSource& config, MachineRegistry& registry, ConfigTokenIssuer& tokens,
                             BootHooks hooks)
    : config_(config), registry_(registry), tokens_(tokens), hooks_(std::move(hooks)) {}

void BootEndpoints::Register(HttpServer& server) {
  server.Handle("/boot.ipxe", [this](const HttpRequest& r) { return ChainScript(r); });
  server.Handle("/ipxe", [this](const HttpRequest& r) { return MachineScript(r); });
  server.HandlePrefix("/config/", [this](const HttpRequest& r) { return MachineConfigFile(r); });
}

HttpResponse BootEndpoints::ChainScript(const HttpRequest&) const {
  return NoStore(HttpResponse::Text(200, RenderChainScript(config_.Current()->server), kIpxeType));
}

HttpResponse BootEndpoints::MachineScript(const HttpRequest& req) {
  const auto config = config_.Current();
  const auto mac = MacAddress::Parse(req.Query("mac"));
  if (!mac) return HttpResponse::Text(400, "mac=<aa-bb-cc-dd-ee-ff> is required\n");
  ++counters_.scripts;

  const IpxeQuery query{std::string(req.Query("mac")), std::string(req.Query("uuid")),
                        std::string(req.Query("serial")), std::string(req.Query("arch")),
                        std::string(req.Query("platform"))};
  // In full DHCP mode our own DHCP says which address a MAC holds; a request
  // from elsewhere must not move it (or it could claim the machine's token).
  const bool full_dhcp = config->dhcp.mode == DhcpMode::kFull;
  registry_.ObserveBoot({*mac, full_dhcp ? std::nullopt : std::optional<Ipv4Address>(req.peer), query.uuid,
                         IpxeArchName(query.arch, query.platform), "", query.serial});

  const MachineConfig* inventory = MachineRegistry::InventoryMachine(*config, *mac);
  const MachineState state = registry_.StateOf(*mac);
  const BootDecision d = DecideBoot(*config, inventory, state, mac->ToString());
  switch (d.action) {
    case BootAction::kIgnore:
      return NoStore(HttpResponse::Text(200, RenderIgnoreScript(), kIpxeType));
    case BootAction::kDiscover:
      return NoStore(
          HttpResponse::Text(200, RenderDiscoverScript(config->server, query, kDiscoverRetrySeconds), kIpxeType));
    case BootAction::kBootFromDisk:
      registry_.RecordEvent(*mac, "boot", "boot from disk (" + std::string(BootFromDiskName(d.disk_mode)) + ")");
      if (d.disk_mode == BootFromDisk::kHttp404) return NoStore(HttpResponse::Text(404, "boot from disk\n"));
      return NoStore(HttpResponse::Text(200, RenderBootFromDiskScript(d.machine_name, d.disk_mode), kIpxeType));
    case BootAction::kInstall:
      break;
  }

  // In full DHCP mode the installer goes only to the address leased to that
  // MAC, and the token is bound to it. In proxy mode another server owns
  // addresses, so the token is bound to the MAC only.
  std::optional<Ipv4Address> bound;
  if (full_dhcp) {
    const auto leased = registry_.AddressOf(*mac);
    if (!leased || *leased != req.peer) {
      ++counters_.configs_refused;
      registry_.RecordEvent(*mac, "boot",
                            "installer refused to " + req.peer.ToString() + ": " +
                                (leased ? "that MAC holds " + leased->ToString() : std::string("no lease for that MAC")));
      return NoStore(HttpResponse::Text(403, "forbidden\n"));
    }
    bound = req.peer;
  }
  const IssuedToken token = tokens_.Issue(*mac, bound, TokenClock::now());
  const TalosBootUrls urls = BootUrlsFor(config->server, d.profile->name, token.token);
  const bool wipe = hooks_.wipe_requested && hooks_.wipe_requested(*mac);
  const auto args = TalosKernelArgs(config->server, *d.profile, d.machine, urls.config, wipe);
  registry_.Apply(*mac, LifecycleEvent::kInstallerServed,
                  "installer served (profile " + d.profile->name + ", role " + std::string(RoleName(d.role)) + ")");
  registry_.RecordEvent(*mac, "config-token",
                        "config token issued" + (bound ? " for " + bound->ToString() : std::string()));
  ++counters_.install_scripts;
  if (hooks_.installer_served) hooks_.installer_served(*mac);
  return NoStore(HttpResponse::Text(
      200, RenderInstallScript(d.machine_name, std::string(RoleName(d.role)), urls.kernel, urls.initramfs, args),
      kIpxeType));
}

HttpResponse BootEndpoints::MachineConfigFile(const HttpRequest& req) {
  const std::string_view token = std::string_view(req.path).substr(std::string_view("/config/").size());
  auto mac = tokens_.Redeem(token, req.peer, TokenClock::now());
  if (!mac.ok()) {
    ++counters_.configs_refused;
    const auto why = TokenRejectionOf(mac.status());
    spdlog::warn("config fetch from {} refused: {}", req.peer.ToString(),
                 why ? TokenRejectionName(*why) : std::string_view("invalid"));
    return Forbidden();
  }
  const auto config = config_.Current();
  const auto machine = MachineToInstall(*config, *mac);
  if (!machine) {
    // Removed from the inventory since its script was served.
    ++counters_.configs_refused;
    registry_.RecordEvent(*mac, "config-fetch", "refused: no longer in the inventory");
    return Forbidden();
  }
  auto rendered = RenderMachineConfig(*config, *machine);
  if (!rendered.ok()) {
    ++counters_.configs_failed;
    registry_.Apply(*mac, LifecycleEvent::kInstallFailed, "config rendering failed", rendered.status().message());
    return HttpResponse::Text(500, "machine config could not be rendered; see metalpxe events\n");
  }
  ++counters_.configs_served;
  registry_.Apply(*mac, LifecycleEvent::kConfigFetched, "config fetched by " + req.peer.ToString());
  HttpResponse r = HttpResponse::Text(200, std::move(*rendered), "application/yaml");
  return NoStore(std::move(r));
}

}  // namespace metalpxe::http
