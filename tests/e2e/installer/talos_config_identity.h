#pragma once
// Who a Talos machine config says this machine is: machine.network.hostname
// (or, Talos 1.12+, a HostnameConfig document's hostname) and machine.type. The stand-in prints both so the test can check that the
// config it got is its own. Pure function over the YAML text.
#include <string>
#include <string_view>

#include "core/result.h"

namespace metalpxe::standin {

struct ConfigIdentity {
  std::string hostname;  // empty when the config sets none
  std::string role;      // machine.type: controlplane | worker (| init, legacy)
  // Which test fixture the config was built from: machine.nodeLabels
  // "metalpxe-fixture", else a `# metalpxe-fixture: ...` comment; "" if none.
  std::string marker;
};

// Parses a (possibly multi-document) Talos config; the first document with a
// `machine:` key is the machine config.
Result<ConfigIdentity> IdentityFromTalosConfig(std::string_view yaml);

}  // namespace metalpxe::standin
