#pragma once
// talosctl's client config ("talosconfig", as `talosctl gen config` writes
// it): `context:` names one of `contexts:`, each with `endpoints`, `nodes`
// and base64-encoded PEM `ca` (the cluster's OS CA), `crt` and `key` (a
// client certificate whose Organization is its Talos role, e.g. os:admin).
// metalpxe reads it to call each node's machine API (talos/) over mutual TLS.
// Parsing is pure (text in, credentials and positioned problems out); the
// key comes out as standard PKCS#8 PEM, ready for gRPC, and as a Secret.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config_problem.h"
#include "core/secret.h"

namespace metalpxe {

// Talos's built-in roles (siderolabs/talos pkg/machinery/role).
inline constexpr std::string_view kTalosRoleAdmin = "os:admin";
inline constexpr std::string_view kTalosRoleOperator = "os:operator";
inline constexpr std::string_view kTalosRoleReader = "os:reader";

struct TalosCredentials {
  std::string context;                  // the context these came from
  std::vector<std::string> endpoints;   // as written (host or host:port)
  std::vector<std::string> nodes;
  std::string ca_pem;                   // one or more CERTIFICATE blocks (the OS CA)
  std::string crt_pem;                  // the client certificate
  Secret key_pem;                       // the client key, PKCS#8 "PRIVATE KEY" PEM
  std::vector<std::string> roles;       // the client certificate's Organization values

  bool HasRole(std::string_view role) const;
};

struct TalosconfigParse {
  std::optional<TalosCredentials> credentials;  // set only when problems is empty
  ConfigProblems problems;                      // FILE:LINE:COLUMN, values never quoted
};

// Parses talosconfig `text`; problems name `file`. `context` picks a context
// other than the file's own `context:` (empty: the file's). Checks that the
// CA and the client certificate parse, that the certificate is signed by the
// CA and that the key is the certificate's. Unknown keys are ignored (talosctl
// writes more, e.g. `auth`, `cluster`), never an error.
TalosconfigParse ParseTalosconfig(std::string_view text, const std::string& file, std::string_view context = "");

}  // namespace metalpxe
