#include "core/lease_ownership.h"

namespace metalpxe {

std::optional<std::string> LeaseWriteConflict(const LeaseRecord* stored, const LeaseRecord& next,
                                              std::int64_t now_unix) {
  if (stored == nullptr || stored->kind != LeaseRecord::Kind::kActive) return std::nullopt;
  if (stored->expires_unix <= now_unix || stored->mac == next.mac) return std::nullopt;
  if (next.kind == LeaseRecord::Kind::kDeclined && next.mac == MacAddress{}) return std::nullopt;
  return "address " + next.ip.ToString() + " is held by " + stored->mac.ToString() + " for another " +
         std::to_string(stored->expires_unix - now_unix) + " s; not granted to " + next.mac.ToString();
}

}  // namespace metalpxe
