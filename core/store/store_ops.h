#pragma once
// One write the store's writer thread applies: what to change, and whom to
// tell once it is durable. Plain data, so callers on any thread can queue it.
#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

#include "core/store.h"

namespace metalpxe {

struct DeleteLeaseOp {
  Ipv4Address ip;
};
struct DeleteExpiredTokensOp {
  std::int64_t now_unix = 0;
};
struct TrimTimelineOp {
  MacAddress mac;
  std::int64_t keep_from_seq = 0;
};
struct DeleteApplyTargetOp {
  MacAddress mac;
};
// Changes nothing; its callback runs once every write queued before it is
// durable. Flush() is built on it.
struct BarrierOp {};

using StoreOp = std::variant<LeaseRecord, DeleteLeaseOp, MachineRecord, TokenRecord, DeleteExpiredTokensOp,
                             EventRecord, ClusterRecord, UpgradeRecord, TimelineEntry, TrimTimelineOp, ApplyTargetRecord,
                             DeleteApplyTargetOp, BarrierOp>;

struct PendingWrite {
  StoreOp op;
  DurableCallback done;  // may be empty
};

// Lease kinds as stored in the `kind` column.
std::string_view LeaseKindName(LeaseRecord::Kind kind);  // "active" | "declined" | "released"
std::optional<LeaseRecord::Kind> ParseLeaseKind(std::string_view name);

}  // namespace metalpxe
