#pragma once
// The gtest environment of the etcd test binaries: the whole process runs in
// one fresh network namespace (see EnterTestNetNs in etcd_cluster.h).
#include <string>

#include <gtest/gtest.h>

#include "tests/etcd/etcd_cluster.h"

namespace metalpxe::testing {

class TestNetNsEnvironment : public ::testing::Environment {
 public:
  explicit TestNetNsEnvironment(std::string tag) : tag_(std::move(tag)) {}
  void SetUp() override { EnterTestNetNs(tag_); }
  void TearDown() override { LeaveTestNetNs(); }

 private:
  std::string tag_;
};

// In one .cpp of each binary: METALPXE_ETCD_TEST_NETNS("tag");
#define METALPXE_ETCD_TEST_NETNS(tag)                                                           \
  static ::testing::Environment* const metalpxe_etcd_test_netns_env [[maybe_unused]] =          \
      ::testing::AddGlobalTestEnvironment(new ::metalpxe::testing::TestNetNsEnvironment(tag))

}  // namespace metalpxe::testing
