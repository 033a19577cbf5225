#pragma once
// The behaviour every Store (core/store.h) owes its callers, as one
// parameterised test suite: round trips of every record, upserts, deletes,
// token expiry, bounded events, callback order, flushing on close, and the
// lease ownership rule. Each backend's test binary instantiates it with a
// StoreBackend (SqliteStore in sqlite_store_test.cpp, EtcdStore on a real
// etcd cluster in tests/etcd/etcd_store_test.cpp), so both are held to the
// same contract by the same code.
#include <cstddef>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "core/store.h"

namespace metalpxe::testing {

class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  // Opens the test's state: empty the first time, then what earlier opens
  // of the same backend object wrote (a reopen). Events beyond max_events
  // are pruned, oldest first.
  virtual std::unique_ptr<Store> Open(std::size_t max_events = 100000) = 0;
};

// Makes a backend with fresh, empty state for one test.
struct StoreBackendFactory {
  std::string name;
  std::function<std::unique_ptr<StoreBackend>()> make;
};

// What gtest prints for the parameter (test names in ctest's listing).
inline void PrintTo(const StoreBackendFactory& f, std::ostream* os) { *os << f.name; }

class StoreContract : public ::testing::TestWithParam<StoreBackendFactory> {
 protected:
  void SetUp() override { backend_ = GetParam().make(); }
  std::unique_ptr<Store> Open(std::size_t max_events = 100000) { return backend_->Open(max_events); }

  std::unique_ptr<StoreBackend> backend_;
};

inline std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackendFactory>& info) {
  return info.param.name;
}

}  // namespace metalpxe::testing
