#include "http/boot_endpoints.h"

#include "core/log.h"
#include "core/provisioning/boot_urls.h"
#include "pxe/ipxe_script.h"

namespace metalpxe::http {
namespace {

constexpr const char* kIpxeType = "text/plain; charset=utf-8";

HttpResponse NoStore(HttpResponse r) {
  // Scripts carry tokens and change with the machine's state.
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// The peer of either family, as the provisioning service knows machines.
IpAddress PeerOf(const HttpRequest& req) { return req.peer6 ? IpAddress(*req.peer6) : IpAddress(req.peer); }

HttpResponse Script(std::string text) { return NoStore(HttpResponse::Text(200, std::move(text), kIpxeType)); }

}  // namespace

BootEndpoints::BootEndpoints(const ConfigSource& config, ProvisioningService& service)
    : config_(config), service_(service) {}

void BootEndpoints::Register(HttpServer& server) {
  server.Handle(std::string(kChainScriptPath), [this](const HttpRequest& r) { return ChainScript(r); });
  server.Handle(std::string(kMachineScriptPath), [this](const HttpRequest& r) { return MachineScript(r); });
  server.HandlePrefix(std::string(kConfigPathPrefix), [this](const HttpRequest& r) { return MachineConfigFile(r); });
}

HttpResponse BootEndpoints::ChainScript(const HttpRequest& req) const {
  service_.OnChainScript(PeerOf(req));
  return Script(RenderChainScript(config_.Current()->server, req.peer_family));
}

HttpResponse BootEndpoints::MachineScript(const HttpRequest& req) {
  const auto mac = MacAddress::Parse(req.Query("mac"));
  if (!mac) return HttpResponse::Text(400, "mac=<aa-bb-cc-dd-ee-ff> is required\n");
  const IpxeQuery query{std::string(req.Query("mac")), std::string(req.Query("uuid")),
                        std::string(req.Query("serial")), std::string(req.Query("arch")),
                        std::string(req.Query("platform"))};
  IpxeRequest ipxe{*mac, req.peer, query.uuid, query.serial, query.arch, query.platform, req.peer_family};
  ipxe.peer6 = req.peer6;
  const IpxeAnswer a = service_.OnIpxe(ipxe);
  switch (a.kind) {
    case IpxeAnswer::Kind::kIgnore: return Script(RenderIgnoreScript());
    case IpxeAnswer::Kind::kDiscover:
      return Script(RenderDiscoverScript(config_.Current()->server, query, a.retry_seconds, req.peer_family));
    case IpxeAnswer::Kind::kBootFromDisk:
      if (a.disk_mode == BootFromDisk::kHttp404) return NoStore(HttpResponse::Text(404, "boot from disk\n"));
      return Script(RenderBootFromDiskScript(a.machine_name, a.disk_mode));
    case IpxeAnswer::Kind::kRefused: return NoStore(HttpResponse::Text(403, "forbidden\n"));
    case IpxeAnswer::Kind::kInstall: break;
  }
  if (a.uki) return Script(RenderUkiScript(a.machine_name, std::string(RoleName(a.role)), a.assets.uki));
  return Script(RenderInstallScript(a.machine_name, std::string(RoleName(a.role)), a.assets.kernel,
                                    a.assets.initramfs, a.kernel_args));
}

HttpResponse BootEndpoints::MachineConfigFile(const HttpRequest& req) {
  const std::string_view token = std::string_view(req.path).substr(kConfigPathPrefix.size());
  ConfigAnswer a = service_.OnConfigFetch(token, PeerOf(req));
  switch (a.kind) {
    case ConfigAnswer::Kind::kServed: return NoStore(HttpResponse::Text(200, std::move(a.yaml), "application/yaml"));
    case ConfigAnswer::Kind::kRefused:
      spdlog::warn("{}", a.why);
      return HttpResponse::Text(403, "forbidden\n");
    case ConfigAnswer::Kind::kFailed:
      spdlog::error("{}", a.why);
      return HttpResponse::Text(500, "machine config could not be rendered; see metalpxe events\n");
  }
  return HttpResponse::Text(403, "forbidden\n");
}

}  // namespace metalpxe::http
