#pragma once
// The few OpenSSL 3 operations the management API's PKI needs: P-256 keys,
// a self-signed CA, and leaf certificates (server / client) signed by it.
// PEM in, PEM out, so callers never hold OpenSSL objects.
#include <cstdint>
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

// What the management API reads from a client certificate on each call.
struct CertificateIdentity {
  std::string common_name;                 // the caller's name
  std::vector<std::string> organizations;  // every O= (the role)
  std::string serial;                      // lowercase hex, no leading zeros (the deny list's key)
  std::int64_t not_after_unix = 0;
};
Result<CertificateIdentity> ReadCertificateIdentity(const std::string& cert_pem);

}  // namespace metalpxe
