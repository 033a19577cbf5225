#pragma once
// The few OpenSSL 3 operations the management API's PKI needs: P-256 keys,
// a self-signed CA, and leaf certificates (server / client) signed by it.
// PEM in, PEM out, so callers never hold OpenSSL objects.
#include <cstdint>
#include <string>
#include <string_view>
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

// A CA as one value (the shared store keeps the API CA of several
// appliances so): its certificate PEM followed by its key PEM. Decode
// accepts exactly one CA certificate (basicConstraints CA:TRUE) and the
// private key that belongs to it, nothing before, between or after them but
// whitespace; anything else is kDataLoss (never the text: it holds a key).
Secret EncodeCaBundle(const PemKeyPair& ca);
Result<PemKeyPair> DecodeCaBundle(std::string_view bundle);

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
