#pragma once
// The stand-in's trustd (siderolabs/talos internal/app/trustd): how a Talos
// worker, whose config has machine.ca's certificate but not its key, gets an
// apid server certificate. Control planes serve securityapi.SecurityService
// on port 50001 (TLS with their apid certificate; the caller proves itself
// with the machine token in the metadata key "token", else Unauthenticated
// "missing token" / "invalid token"); a worker sends a CSR there and gets
// back a serverAuth certificate signed by machine.ca.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "tests/e2e/installer/standin_pki.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace metalpxe::standin {

// The service, for a grpc::ServerBuilder (the control plane's second port).
std::unique_ptr<grpc::Service> MakeTrustdService(std::string ca_cert_pem, std::string ca_key_pem, std::string token);

// A worker's request: a fresh key and CSR for `ips`/`hostname`, sent to
// trustd at `host`:50001 (its certificate checked against `ca_cert_pem`),
// retried until `budget` is spent (control planes may not be up yet).
Result<IssuedPair> RequestApidCertificate(const std::string& host, const std::string& token,
                                          const std::string& ca_cert_pem, const std::vector<std::string>& ips,
                                          const std::string& hostname, std::chrono::seconds budget);

}  // namespace metalpxe::standin
