#include "tests/support/netns.h"

#include <gtest/gtest.h>

#include "tests/support/subprocess.h"

namespace metalpxe::testing {
namespace {

TEST(NetNs, VethPairPingsAndIsRemoved) {
  std::string server_name;
  {
    VethPair pair("sup", "10.200.0.1/24", "10.200.0.2/24");
    server_name = pair.server.name();
    auto r = RunCommand({"ping", "-c", "1", "-W", "2", "10.200.0.1"}, std::chrono::seconds(10), pair.client.name());
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  auto list = RunCommand({"ip", "netns", "list"});
  EXPECT_EQ(list.output.find(server_name), std::string::npos);
}

TEST(Subprocess, CapturesOutputAndTimesOut) {
  auto p = Subprocess::Start({"sh", "-c", "echo hello; echo oops >&2; exit 3"});
  EXPECT_EQ(p.Wait(std::chrono::seconds(5)), 3);
  EXPECT_EQ(p.Stdout(), "hello\n");
  EXPECT_EQ(p.Stderr(), "oops\n");
  auto slow = Subprocess::Start({"sleep", "30"});
  EXPECT_FALSE(slow.Wait(std::chrono::milliseconds(100)));
}

}  // namespace
}  // namespace metalpxe::testing
