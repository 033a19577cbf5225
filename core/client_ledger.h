#pragma once
// The management API's record of the client configs it issued, and the deny
// list of revoked client certificates, as plain data and text. Both live in
// <stateDir>/pki next to the CA:
//   issued.yaml  one entry per issued config: name, role, serial, times and
//                who issued / revoked it. Never a private key: the key leaves
//                with the config and the appliance keeps no copy.
//   revoked      one certificate serial (lowercase hex) per line; '#' starts
//                a comment. Every call's client certificate is checked
//                against it, so a config is revoked without rotating the CA.
// The API writes both; an operator may read them, or add a serial to
// `revoked` by hand (metalpxed reads it again when it changes).
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/api_roles.h"
#include "core/result.h"

namespace metalpxe {

struct IssuedClientConfig {
  std::string name;              // the certificate's CN
  ApiRole role = ApiRole::kViewer;
  std::string serial;            // lowercase hex, no leading zeros
  std::int64_t issued_unix = 0;
  std::int64_t expires_unix = 0;
  std::string issued_by;         // CN of the admin who asked
  std::int64_t revoked_unix = 0; // 0: not revoked
  std::string revoked_by;
};

// Client names become certificate CNs and file names: 1..64 of [a-z0-9._-],
// starting with a letter or digit.
bool IsValidClientName(std::string_view name);
// "0A:1b:..", "0a1b..", "0x0a1b" -> "a1b..."; nullopt unless hex (1..40 bytes).
std::optional<std::string> NormalizeSerial(std::string_view text);

std::string RenderClientLedger(const std::vector<IssuedClientConfig>& entries);
Result<std::vector<IssuedClientConfig>> ParseClientLedger(std::string_view yaml_text);

std::string RenderRevokedSerials(const std::set<std::string>& serials);
// Lines that are not a serial are an error naming the line (a typo in a deny
// list must not silently let a certificate in).
Result<std::set<std::string>> ParseRevokedSerials(std::string_view text);

}  // namespace metalpxe
