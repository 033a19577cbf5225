#pragma once
// The certificates the stand-in apid needs, made as Talos makes them
// (OpenSSL 3; PEM in, PEM out):
//   - its apid server certificate, issued from the machine config's
//     machine.ca (Ed25519; the key as talosctl writes it, PEM label
//     "ED25519 PRIVATE KEY", which this file reads itself), naming the
//     node's addresses and hostname;
//   - a self-signed certificate for maintenance mode (nothing to chain to);
//   - the Kubernetes admin client certificate of the kubeconfig Talos
//     serves, issued from cluster.ca (O=system:masters, CN=admin).
// The stand-in has its own copy of these steps (it does not borrow
// metalpxe's): a bug shared by both sides would hide itself.
#include <string>
#include <vector>

#include "core/result.h"

namespace metalpxe::standin {

struct IssuedPair {
  std::string cert_pem;
  std::string key_pem;  // PKCS#8 "PRIVATE KEY"
};

// Ed25519 server certificate for apid, signed by the CA (its key in any
// label, Go's "ED25519 PRIVATE KEY" included), with IP and DNS SANs.
Result<IssuedPair> IssueApidCertificate(const std::string& ca_cert_pem, const std::string& ca_key_pem,
                                        const std::vector<std::string>& ips, const std::vector<std::string>& dns_names);

// Self-signed Ed25519 certificate for the maintenance-mode API.
Result<IssuedPair> MaintenanceCertificate(const std::vector<std::string>& ips);

// Kubernetes admin client certificate (CN=admin, O=system:masters) from the
// Kubernetes CA (ECDSA "EC PRIVATE KEY" as talosctl writes it, or any other).
Result<IssuedPair> IssueKubernetesAdmin(const std::string& ca_cert_pem, const std::string& ca_key_pem);

// A new Ed25519 key and a CSR for an apid server certificate (CN=hostname,
// IP and DNS SANs), as a Talos worker sends it to trustd.
struct KeyAndCsr {
  std::string key_pem;  // PKCS#8
  std::string csr_pem;
};
Result<KeyAndCsr> MakeApidCsr(const std::vector<std::string>& ips, const std::string& hostname);

// trustd's signing (reg.go): the CSR's key and SANs, serverAuth only, any
// Organization dropped (so the certificate cannot serve as a client's).
Result<std::string> SignApidCsr(const std::string& ca_cert_pem, const std::string& ca_key_pem,
                                const std::string& csr_pem);

// The subject Organization values of a PEM certificate (the client's Talos roles).
std::vector<std::string> OrganizationsOf(const std::string& cert_pem);

}  // namespace metalpxe::standin
