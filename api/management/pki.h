#pragma once
// The management API's own small PKI, created on metalpxed's first start and
// reused after: a CA, the server certificate for apiListen and the admin
// client certificate, under <stateDir>/pki (keys mode 0600, directory 0700).
// The admin's client config (endpoint + PEMs) is written next to them as
// admin.metalpxeconfig for metalpxectl.
//
// Several appliances on one shared store (etcd, issue #20): the CA is the
// shared value kSharedApiCaName (core/shared_values.h), made once by the
// first appliance (from its own pki/ca.* when it has them, so client configs
// made before keep working; else a new CA) and used by all, so a client
// config made on one appliance is accepted by every other. Its key then
// lives in etcd only: pki/ca.crt is written for reference, pki/ca.key is not
// kept. Each appliance still issues its own server certificate (its own
// address and host name) and its own admin client config from that CA.
#include <cstdint>
#include <string>

#include "core/net_types.h"
#include "core/result.h"
#include "core/secret.h"
#include "core/shared_values.h"

namespace metalpxe {

struct ApiPki {
  std::string dir;                 // <stateDir>/pki
  std::string ca_cert_pem;         // trust anchor for client certificates
  Secret ca_key_pem;               // signs client configs issued through the API
  std::string admin_cert_pem;      // the bootstrap admin's certificate (ledger entry "admin")
  std::string server_cert_pem;
  Secret server_key_pem;
  std::string client_config_path;  // <stateDir>/pki/admin.metalpxeconfig
  // The shared store's values when several appliances share the CA (then
  // the client config ledger and deny list are shared too), else null.
  SharedValues* shared = nullptr;
};

// Creates what is missing, reuses what is there. The server certificate is
// reissued (same CA) when it no longer names server_address / host_name or
// expires within 30 days; the client config is rewritten when its endpoint
// (server_address:api_port) changed. host_name "" = this host's name.
// `shared`: the shared store's values, or null (a single appliance: the CA
// is its own, in pki/).
inline constexpr const char* kSharedApiCaName = "api-ca";
Result<ApiPki> EnsureApiPki(const std::string& state_dir, Ipv4Address server_address, std::string host_name,
                            std::uint16_t api_port = 50100, SharedValues* shared = nullptr);

}  // namespace metalpxe
