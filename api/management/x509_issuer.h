#pragma once
// The few OpenSSL 3 operations the management API's PKI needs: P-256 keys,
// a self-signed CA, and leaf certificates (server / client) signed by it.
// PEM in, PEM out, so callers never hold OpenSSL objects.
#include <string>
#include <vector>

#include "core/result.h"
#include "core/secret.h"

namespace metalpxe {

struct PemKeyPair {
  std::string cert_pem;
  Secret key_pem;
};

struct LeafSpec {
  std::string common_name;
  std::string organization;           // empty: none
  bool server = false;                // serverAuth; otherwise clientAuth
  std::vector<std::string> dns_names; // subjectAltName DNS:
  std::vector<std::string> ip_addresses;  // subjectAltName IP:
  int valid_days = 3650;
};

Result<PemKeyPair> IssueCa(const std::string& common_name, int valid_days = 3650);
Result<PemKeyPair> IssueLeaf(const PemKeyPair& ca, const LeafSpec& spec);

// True when `cert_pem` parses, chains to `ca_cert_pem` (signature only) and
// names every IP and DNS name given; false tells the caller to reissue.
bool CertificateCovers(const std::string& cert_pem, const std::string& ca_cert_pem,
                       const std::vector<std::string>& ip_addresses, const std::vector<std::string>& dns_names);

}  // namespace metalpxe
