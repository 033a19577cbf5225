#include "core/store/store_ops.h"

namespace metalpxe {

std::string_view LeaseKindName(LeaseRecord::Kind kind) {
  switch (kind) {
    case LeaseRecord::Kind::kActive: return "active";
    case LeaseRecord::Kind::kDeclined: return "declined";
    case LeaseRecord::Kind::kReleased: return "released";
  }
  return "active";
}

std::optional<LeaseRecord::Kind> ParseLeaseKind(std::string_view name) {
  if (name == "active") return LeaseRecord::Kind::kActive;
  if (name == "declined") return LeaseRecord::Kind::kDeclined;
  if (name == "released") return LeaseRecord::Kind::kReleased;
  return std::nullopt;
}

}  // namespace metalpxe
