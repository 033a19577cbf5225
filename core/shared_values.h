#pragma once
// Values shared by every appliance of one installation (issue #20), in the
// shared store (etcd) under its key prefix. Made once: the config token key
// and the management API's CA, so a token issued by one appliance opens its
// config on another and a client config made on one is accepted by all.
// Changed by any appliance with a compare-and-swap: the ledger of issued
// client configs and their deny list, so a revocation counts everywhere.
// SqliteStore has no such values: a single appliance keeps them in its
// stateDir.
//
// Made-once values are secrets: whoever reads them must not log them, and
// the store lists them nowhere (no API, no event).
#include <cstdint>
#include <string>

#include "core/result.h"
#include "core/secret.h"

namespace metalpxe {

class SharedValues {
 public:
  virtual ~SharedValues() = default;
  // The value stored under `name`, storing `candidate` first when there is
  // none (one create-if-absent transaction: of several appliances starting
  // at once exactly one candidate wins and every caller gets that one).
  virtual Result<Secret> CreateOnce(const std::string& name, const Secret& candidate) = 0;

  // A changing value (never a secret) and the revision it was read at.
  struct Versioned {
    std::string value;
    std::int64_t revision = 0;  // 0: absent
  };
  virtual Result<Versioned> Read(const std::string& name) = 0;
  // Writes `value` if the value is still at `expected_revision` (0: still
  // absent); false when another writer came first (read again, redo).
  virtual Result<bool> Replace(const std::string& name, std::int64_t expected_revision, const std::string& value) = 0;
};

}  // namespace metalpxe
