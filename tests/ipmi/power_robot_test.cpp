// RobotPowerDriver against the Robot fixture (Hetzner web service shapes),
// and the full reinstall path: rescue with metalpxe's key, hardware reset,
// SSH into the "rescue system" (a real sshd), download kernel + initramfs
// from an HTTP server, kexec (a recording stand-in). All on 127.0.0.1 in a
// test network namespace.
#include <gtest/gtest.h>

#include "ipmi/power_driver.h"
#include "ipmi/robot_client.h"
#include "ipmi/robot_driver.h"
#include "tests/ipmi/http_fixture.h"
#include "tests/ipmi/rescue_sshd.h"
#include "tests/ipmi/robot_fixture.h"
#include "tests/support/netns.h"

namespace metalpxe {
namespace {

using testing::FixtureRequest;
using testing::FixtureResponse;
using testing::HttpFixture;
using testing::NetNs;
using testing::RescueSshd;
using testing::RobotFixture;
using testing::RobotFixtureOptions;
using testing::ScopedNetNsEnter;

class PowerRobot : public ::testing::Test {
 protected:
  PowerContext Context(const RobotFixture& robot) {
    PowerContext c;
    c.request_timeout = std::chrono::milliseconds(2000);
    c.retry.max_attempts = 4;
    c.retry.initial_backoff = std::chrono::milliseconds(20);
    c.robot_base_url = robot.url();
    c.rescue_timeout = std::chrono::seconds(20);
    return c;
  }
  BmcConfig Bmc(const std::string& server = "321", const std::string& password = "robot-pass") {
    BmcConfig b;
    b.type = BmcType::kHetznerRobot;
    b.address = server;
    b.username = "#ws+robotuser";
    b.password = Secret(password);
    return b;
  }
  std::unique_ptr<PowerDriver> Driver(const BmcConfig& bmc, const PowerContext& ctx) {
    auto d = MakePowerDriver(bmc, MacAddress{}, ctx);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : nullptr;
  }

  NetNs ns_{"pwrobot"};
  ScopedNetNsEnter enter_{ns_.name()};
};

TEST_F(PowerRobot, ReinstallGoesThroughRescueResetSshAndKexec) {
  RescueSshd rescue(ns_.name(), testing::FreeTcpPort());
  const std::string fingerprint = rescue.ClientKeyMd5();
  ASSERT_FALSE(fingerprint.empty());
  RobotFixtureOptions o;
  // The hardware reset "boots the rescue system": sshd comes up only then,
  // and only if rescue was activated with metalpxe's key.
  o.on_hw_reset = [&](bool active, const std::string& key) {
    if (active && key == fingerprint) rescue.Start();
  };
  RobotFixture robot(o);
  const std::string kernel(200'000, 'K'), initrd = "initramfs-bytes\x01\x02";
  HttpFixture assets([&](const FixtureRequest& r) -> FixtureResponse {
    if (r.path == "/assets/vmlinuz") return {200, kernel, {{"Content-Type", "application/octet-stream"}}};
    if (r.path == "/assets/initramfs.xz") return {200, initrd, {{"Content-Type", "application/octet-stream"}}};
    return {404, "", {}};
  });

  auto ctx = Context(robot);
  ctx.ssh_private_key_file = rescue.client_key();
  ctx.ssh_port = rescue.port();
  auto d = Driver(Bmc(), ctx);
  ASSERT_TRUE(d->Capabilities().kexec_reinstall);
  ASSERT_FALSE(rescue.started());

  const std::string cmdline =
      "talos.platform=metal talos.config=http://127.0.0.1:" + std::to_string(assets.port()) +
      "/config/t0k'en console=tty0 console=ttyS0 init_on_alloc=1 slab_nomerge pti=on printk.devkmsg=on";
  ReinstallPlan plan;
  plan.kexec = {assets.url() + "/assets/vmlinuz", assets.url() + "/assets/initramfs.xz", cmdline};
  Status s = StartReinstall(*d, plan);
  ASSERT_TRUE(s.ok()) << s.ToString() << "\nsshd:\n" << rescue.SshdLog();

  EXPECT_EQ(robot.Actions(), (std::vector<std::string>{"rescue linux " + fingerprint, "reset hw"}));
  const std::string log = rescue.KexecLog();
  // Two calls: load with the exact command line (quote and all), then execute.
  const auto first_nl = log.find('\n');
  ASSERT_NE(first_nl, std::string::npos) << log;
  const std::string load = log.substr(0, first_nl);
  EXPECT_EQ(load.rfind("kexec [-l] [/tmp/metalpxe.", 0), 0u) << load;
  EXPECT_NE(load.find("/kernel] [--initrd=/tmp/metalpxe."), std::string::npos) << load;
  EXPECT_NE(load.find("[--append=" + cmdline + "]"), std::string::npos) << load;
  EXPECT_EQ(log.substr(first_nl + 1), "kexec [-e]\n");
  EXPECT_EQ(rescue.LoadedKernel(), kernel);
  EXPECT_EQ(rescue.LoadedInitrd(), initrd);
  EXPECT_EQ(assets.Requests(), (std::vector<std::string>{"GET /assets/vmlinuz", "GET /assets/initramfs.xz"}));
}

TEST_F(PowerRobot, AnActiveRescueIsReplacedSoOurKeyIsInIt) {
  RobotFixture robot;
  RobotClient client(robot.url(), "#ws+robotuser", Secret("robot-pass"), HttpClientOptions{}, RetryPolicy{});
  ASSERT_TRUE(client.ActivateRescue("321", "11:22").ok());
  auto again = client.ActivateRescue("321", "aa:bb");  // 409 BOOT_ALREADY_ENABLED, then replaced
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->active);
  EXPECT_EQ(robot.Actions(), (std::vector<std::string>{"rescue linux 11:22", "rescue off", "rescue linux aa:bb"}));
}

TEST_F(PowerRobot, RescueThatNeverAnswersIsUnreachable) {
  RescueSshd rescue(ns_.name(), testing::FreeTcpPort());  // never started
  RobotFixture robot;
  auto ctx = Context(robot);
  ctx.ssh_private_key_file = rescue.client_key();
  ctx.ssh_port = rescue.port();
  ctx.rescue_timeout = std::chrono::seconds(2);
  Status s = Driver(Bmc(), ctx)->ReinstallWithKexec({"http://127.0.0.1:1/k", "http://127.0.0.1:1/i", "x"});
  EXPECT_EQ(s.code(), ErrorCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("did not come up"), std::string::npos) << s.message();
}

TEST_F(PowerRobot, PowerActionsUseResetTypesAndWol) {
  RobotFixtureOptions o;
  o.reset_types = {"sw", "hw", "man", "power", "power_long"};
  RobotFixture robot(o);
  auto d = Driver(Bmc(), Context(robot));
  ASSERT_TRUE(d->PowerCycle().ok());
  ASSERT_TRUE(d->PowerOff().ok());
  ASSERT_TRUE(d->PowerOn().ok());
  auto st = d->GetPowerState();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, PowerState::kUnknown);
  EXPECT_EQ(robot.Actions(), (std::vector<std::string>{"reset hw", "reset power_long", "wol"}));
  EXPECT_EQ(d->SetNextBootNetwork(true).code(), ErrorCode::kUnsupported);
}

TEST_F(PowerRobot, UnofferedResetTypeIsUnsupported) {
  RobotFixture robot;  // sw, hw, man: no power_long
  Status s = Driver(Bmc(), Context(robot))->PowerOff();
  EXPECT_EQ(s.code(), ErrorCode::kUnsupported) << s.ToString();
  EXPECT_EQ(PowerFailureReason(s).rfind("unsupported: ", 0), 0u);
  EXPECT_TRUE(robot.Actions().empty());
}

TEST_F(PowerRobot, RateLimitIsHonouredWithBackoff) {
  RobotFixtureOptions o;
  o.rate_limited_requests = 2;
  RobotFixture robot(o);
  ASSERT_TRUE(Driver(Bmc(), Context(robot))->PowerCycle().ok());
  EXPECT_EQ(robot.Requests().size(), 3u);  // two 403s, then the reset
  EXPECT_EQ(robot.Actions(), std::vector<std::string>{"reset hw"});

  o.rate_limited_requests = 100;
  RobotFixture limited(o);
  Status s = Driver(Bmc(), Context(limited))->PowerCycle();
  EXPECT_EQ(s.code(), ErrorCode::kResourceExhausted) << s.ToString();
  EXPECT_EQ(PowerFailureReason(s).rfind("rate limited: ", 0), 0u);
  EXPECT_NE(s.message().find("RATE_LIMIT_EXCEEDED"), std::string::npos);
  EXPECT_EQ(limited.Requests().size(), 4u);  // bounded by RetryPolicy::max_attempts
}

TEST_F(PowerRobot, WrongPasswordUnknownServerAndUnreachable) {
  RobotFixture robot;
  Status auth = Driver(Bmc("321", "nope"), Context(robot))->PowerCycle();
  EXPECT_EQ(auth.code(), ErrorCode::kPermissionDenied) << auth.ToString();
  EXPECT_EQ(auth.message().find("nope"), std::string::npos);

  Status unknown = Driver(Bmc("999"), Context(robot))->PowerCycle();
  EXPECT_EQ(unknown.code(), ErrorCode::kInvalidArgument) << unknown.ToString();

  auto ctx = Context(robot);
  ctx.robot_base_url = "http://127.0.0.1:" + std::to_string(testing::FreeTcpPort());
  ctx.retry.max_attempts = 2;
  Status down = Driver(Bmc(), ctx)->PowerCycle();
  EXPECT_EQ(down.code(), ErrorCode::kUnavailable) << down.ToString();
  EXPECT_TRUE(robot.Actions().empty());
}

}  // namespace
}  // namespace metalpxe
