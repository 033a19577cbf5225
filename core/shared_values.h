#pragma once
// Values made once and then shared by every appliance of one installation
// (issue #20): the config token key and the management API's CA live in
// the shared store (etcd) under its key prefix, so a token issued by one
// appliance opens its config on another and a client config made on one is
// accepted by all. SqliteStore has no such values: a single appliance keeps
// them in its stateDir.
//
// Values are secrets: whoever reads them must not log them, and the store
// lists them nowhere (no API, no event).
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
};

}  // namespace metalpxe
