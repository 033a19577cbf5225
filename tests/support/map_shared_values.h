#pragma once
// SharedValues (core/shared_values.h) as an in-memory map, for unit tests of
// what uses it; EtcdStore's own runs on a real etcd (etcd_ha_appliance_it_test).
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "core/shared_values.h"

namespace metalpxe::testing {

class MapSharedValues final : public SharedValues {
 public:
  Result<Secret> CreateOnce(const std::string& name, const Secret& candidate) override {
    auto [it, fresh] = values.emplace(name, Entry{candidate.Reveal(), 0});
    if (fresh) it->second.revision = ++revision;
    return Secret(it->second.value);
  }
  Result<Versioned> Read(const std::string& name) override {
    ++reads;
    if (fail) return Status(ErrorCode::kUnavailable, "shared values unavailable (test)");
    auto it = values.find(name);
    if (it == values.end()) return Versioned{};
    return Versioned{it->second.value, it->second.revision};
  }
  Result<bool> Replace(const std::string& name, std::int64_t expected_revision, const std::string& value) override {
    if (fail) return Status(ErrorCode::kUnavailable, "shared values unavailable (test)");
    auto it = values.find(name);
    const std::int64_t current = it == values.end() ? 0 : it->second.revision;
    if (current != expected_revision) return false;
    values[name] = Entry{value, ++revision};
    return true;
  }

  struct Entry {
    std::string value;
    std::int64_t revision = 0;
  };
  std::map<std::string, Entry> values;
  std::int64_t revision = 0;
  int reads = 0;
  bool fail = false;
};

}  // namespace metalpxe::testing
