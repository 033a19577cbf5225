#pragma once
// The boot path's HTTP endpoints (/boot.ipxe, /ipxe, /config/<token>): an
// adapter. It reads the query, asks core's ProvisioningService, and writes
// the answer as iPXE text (pxe/ipxe_script) and HTTP status codes. Handlers
// run on HTTP worker threads; the service is thread-safe and nothing on this
// path waits for a disk.
#include "core/config_source.h"
#include "core/provisioning/provisioning_service.h"
#include "http/http_server.h"

namespace metalpxe::http {

class BootEndpoints {
 public:
  BootEndpoints(const ConfigSource& config, ProvisioningService& service);

  void Register(HttpServer& server);

  HttpResponse ChainScript(const HttpRequest& req) const;
  HttpResponse MachineScript(const HttpRequest& req);
  HttpResponse MachineConfigFile(const HttpRequest& req);

 private:
  const ConfigSource& config_;
  ProvisioningService& service_;
};

}  // namespace metalpxe::http
