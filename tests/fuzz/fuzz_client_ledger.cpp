// The client ledger (pki/issued.yaml) and the deny list (pki/revoked) over
// arbitrary bytes: metalpxed reads both at start and the deny list on every
// change, and an operator may edit them by hand. Errors, never a crash or an
// exception; what parses survives a render/parse round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/client_ledger.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto serials = metalpxe::ParseRevokedSerials(text); serials.ok()) {
    auto again = metalpxe::ParseRevokedSerials(metalpxe::RenderRevokedSerials(*serials));
    if (!again.ok() || *again != *serials) std::abort();
  }
  if (auto ledger = metalpxe::ParseClientLedger(text); ledger.ok()) {
    auto again = metalpxe::ParseClientLedger(metalpxe::RenderClientLedger(*ledger));
    if (!again.ok() || again->size() != ledger->size()) std::abort();
    for (std::size_t i = 0; i < ledger->size(); ++i) {
      const auto& a = (*ledger)[i];
      const auto& b = (*again)[i];
      if (a.name != b.name || a.role != b.role || a.serial != b.serial || a.issued_unix != b.issued_unix ||
          a.expires_unix != b.expires_unix || a.issued_by != b.issued_by || a.revoked_unix != b.revoked_unix ||
          (a.revoked_unix != 0 && a.revoked_by != b.revoked_by)) {
        std::abort();
      }
    }
  }
  return 0;
}
