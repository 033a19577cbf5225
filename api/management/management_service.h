#pragma once
// The management API server: metalpxe.v1.Management over gRPC with mutual
// TLS on server.apiListen. Only clients whose certificate the API CA signed
// get past the handshake; every call is then checked against the deny list
// of revoked certificates and the role its certificate's Organization
// carries (core/api_roles.h), and translated to ManagementBackend.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "api/management/client_certificates.h"
#include "api/management/management_backend.h"
#include "api/management/pki.h"
#include "core/result.h"

namespace metalpxe {

class ManagementServer {
 public:
  // listen: "0.0.0.0:50100" (apiListen); port 0 picks a free one. `pki`
  // is copied; `backend` must outlive the server.
  ManagementServer(std::string listen, const ApiPki& pki, ManagementBackend& backend);
  ~ManagementServer();  // Shutdown()
  ManagementServer(const ManagementServer&) = delete;
  ManagementServer& operator=(const ManagementServer&) = delete;

  Status Start();
  // Idempotent. Open streams end (OK) within ~200 ms, then the server stops.
  void Shutdown();
  std::uint16_t port() const { return port_; }  // valid after Start()

 private:
  class Service;
  std::string listen_;
  ApiPki pki_;
  std::unique_ptr<ClientCertificates> clients_;  // issued configs and the deny list
  std::unique_ptr<Service> service_;
  struct GrpcServer;
  std::unique_ptr<GrpcServer> server_;
  std::uint16_t port_ = 0;
};

}  // namespace metalpxe
