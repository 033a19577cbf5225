#pragma once
// The one rule every Store applies to a lease write, inside the transaction
// that makes it durable: an address is never granted to a second MAC while
// the first still holds it. With one appliance the DHCP lease table already
// guarantees that; with several appliances sharing one store (etcd), a
// standby that took over with a stale table, or a former leader still
// writing, is stopped here instead of handing out a duplicate address.
#include <cstdint>
#include <optional>
#include <string>

#include "core/store.h"

namespace metalpxe {

// nullopt when `next` may replace `stored` (nullptr: nothing stored for the
// address) at wall-clock time `now_unix`; else why not, for the error.
// Allowed: nothing stored; the stored record is not an active lease, or has
// expired; the same MAC (renewal, release); a decline (kind declined with the
// MAC cleared, which is how the DHCP server quarantines a declined address).
std::optional<std::string> LeaseWriteConflict(const LeaseRecord* stored, const LeaseRecord& next,
                                              std::int64_t now_unix);

}  // namespace metalpxe
