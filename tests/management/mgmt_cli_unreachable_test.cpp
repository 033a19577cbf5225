// metalpxectl against endpoints that are not there, from inside a network
// namespace this test makes: an address with no route, a local address where
// nothing listens, and an address whose packets are all dropped (routed to a
// MAC nobody has). Each gets its own cause, none of them a word about
// certificates. The client config is a valid one (the fixture's PKI).
#include <gmock/gmock.h>

#include "tests/management/mgmt_fixture.h"
#include "tests/support/netns.h"

namespace metalpxe::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class MgmtCliUnreachable : public LiveServer {
 protected:
  void SetUp() override {
    LiveServer::SetUp();
    ns_ = std::make_unique<NetNs>("ctlnet");
    ns_->Ip({"link", "add", "va", "type", "veth", "peer", "name", "vb"});
    ns_->Ip({"addr", "add", "10.88.0.1/24", "dev", "va"});
    ns_->Ip({"link", "set", "va", "up"});
    ns_->Ip({"link", "set", "vb", "up"});
    ns_->Ip({"neigh", "add", "10.88.0.9", "lladdr", "02:00:00:00:00:99", "dev", "va"});
  }
  CommandResult CtlTo(const std::string& endpoint) {
    return RunCommand({CtlPath(), "--config", config_, "--endpoint", endpoint, "version"}, std::chrono::seconds(90),
                      ns_->name());
  }
  std::unique_ptr<NetNs> ns_;
};

TEST_F(MgmtCliUnreachable, EachCauseIsNamed) {
  auto no_route = CtlTo("10.99.0.1:50100");
  EXPECT_EQ(no_route.exit_code, 1) << no_route.output;
  EXPECT_THAT(no_route.output, HasSubstr("cannot reach metalpxed at 10.99.0.1:50100: no route to that address"));

  auto refused = CtlTo("10.88.0.1:50100");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("(connection refused: nothing listens on that port)"));

  // Every packet dropped: gRPC's connect timeout (20 s) or the call's
  // deadline (30 s) ends it, whichever comes first.
  auto silent = CtlTo("10.88.0.9:50100");
  EXPECT_EQ(silent.exit_code, 1) << silent.output;
  EXPECT_THAT(silent.output, HasSubstr("no answer from 10.88.0.9:50100: the host is down, or packets to it are "
                                       "dropped"));

  for (const auto* r : {&no_route, &refused, &silent}) EXPECT_THAT(r->output, Not(HasSubstr("certificate")));
}

}  // namespace
}  // namespace metalpxe::testing
