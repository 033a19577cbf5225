// RobotPowerDriver against the Robot fixture (Hetzner web service shapes),
// and the full reinstall path: rescue with metalpxe's key, hardware reset,
// SSH into the "rescue system" (a real sshd), download kernel + initramfs
// from an HTTP server, kexec (a recording stand-in). All on 127.0.0.1 in a
// test network namespace.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>

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
  o.rescue_host_keys = {rescue.HostPublicKey()};  // what Robot lists: the pin
  // The hardware reset "boots the rescue system": sshd comes up only then,
  // and only if rescue was activated with metalpxe's key.
  o.on_reset = [&](const std::string&, bool active, const std::string& key) {
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

  EXPECT_EQ(robot.Actions(), (std::vector<std::string>{"rescue linux " + fingerprint, "reset sw"}));
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
  const std::string first = "11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00";
  const std::string second = "aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99";
  ASSERT_TRUE(client.ActivateRescue("321", first).ok());
  auto again = client.ActivateRescue("321", second);  // 409 BOOT_ALREADY_ENABLED, then replaced
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->active);
  EXPECT_EQ(robot.Actions(), (std::vector<std::string>{"rescue linux " + first, "rescue off", "rescue linux " + second}));
}

TEST_F(PowerRobot, RescueThatNeverAnswersIsUnreachable) {
  RescueSshd rescue(ns_.name(), testing::FreeTcpPort());  // never started
  RobotFixtureOptions o;
  o.rescue_host_keys = {rescue.HostPublicKey()};
  RobotFixture robot(o);
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

// --- Robot API realities, each ending in the reason the machine shows ---

namespace metalpxe {
namespace {

class RobotRealities : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mpx-robot-tls-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    tls_dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(tls_dir_); }
  PowerContext Context(const RobotFixture& robot) {
    PowerContext c;
    c.request_timeout = std::chrono::milliseconds(3000);
    c.retry.max_attempts = 3;
    c.retry.initial_backoff = std::chrono::milliseconds(20);
    c.robot_base_url = robot.url();
    c.robot_ca_file = robot.ca_file();
    return c;
  }
  std::unique_ptr<PowerDriver> Driver(const PowerContext& ctx, const std::string& password = "robot-pass") {
    BmcConfig b;
    b.type = BmcType::kHetznerRobot;
    b.address = "321";
    b.username = "#ws+robotuser";
    b.password = Secret(password);
    auto d = MakePowerDriver(b, MacAddress{}, ctx);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : nullptr;
  }
  std::string Reason(const Status& s) { return PowerFailureReason(s); }

  NetNs ns_{"pwrobot2"};
  ScopedNetNsEnter enter_{ns_.name()};
  std::string tls_dir_;
};

TEST_F(RobotRealities, HttpsWithTheConfiguredCaAndNotWithout) {
  RobotFixture robot({}, tls_dir_);
  ASSERT_EQ(robot.url().rfind("https://", 0), 0u);
  ASSERT_TRUE(Driver(Context(robot))->PowerCycle().ok());
  auto ctx = Context(robot);
  ctx.robot_ca_file.clear();  // the system store does not know the fixture's CA
  Status s = Driver(ctx)->PowerCycle();
  EXPECT_EQ(Reason(s).rfind("authentication failed: ", 0), 0u) << Reason(s);
  EXPECT_NE(s.message().find("TLS certificate not trusted"), std::string::npos) << s.message();
  EXPECT_EQ(robot.Actions(), std::vector<std::string>{"reset hw"});
}

TEST_F(RobotRealities, OneFailedLoginAndMetalpxeStopsAskingForEveryMachine) {
  RobotFixture robot({}, tls_dir_);
  Status first = Driver(Context(robot), "wrong-password")->PowerCycle();
  EXPECT_EQ(first.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Reason(first).rfind("authentication failed: Hetzner Robot reset hw of server 321: HTTP 401", 0), 0u)
      << Reason(first);
  EXPECT_NE(first.message().find("does not retry"), std::string::npos);
  EXPECT_EQ(first.message().find("wrong-password"), std::string::npos);  // never the password
  // A second machine with the same user and password: not even asked.
  Status second = Driver(Context(robot), "wrong-password")->PowerOn();
  EXPECT_EQ(second.code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(second.message().find("asks again in"), std::string::npos) << second.message();
  EXPECT_EQ(robot.failed_logins(), 1);
  EXPECT_EQ(robot.Requests().size(), 1u);
  // The corrected password is tried at once.
  ASSERT_TRUE(Driver(Context(robot))->PowerCycle().ok());
}

TEST_F(RobotRealities, FixtureBlocksTheAddressAfterThreeFailedLogins) {
  // The fixture's own strictness, seen by a plain client: after 3 failures
  // even the right password is refused (what metalpxe's guard avoids).
  RobotFixture robot({}, tls_dir_);
  for (const char* pw : {"a", "b", "c"}) {
    RobotClient c(robot.url(), "#ws+robotuser", Secret(std::string("x") + pw),
                  HttpClientOptions{std::chrono::seconds(3), true, robot.ca_file()}, RetryPolicy{1});
    EXPECT_EQ(c.Reset("321", "hw").code(), ErrorCode::kPermissionDenied);
  }
  RobotClient good(robot.url(), "#ws+robotuser", Secret("robot-pass"),
                   HttpClientOptions{std::chrono::seconds(3), true, robot.ca_file()}, RetryPolicy{1});
  EXPECT_EQ(good.Reset("321", "hw").code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(robot.failed_logins(), 3);
  EXPECT_TRUE(robot.Actions().empty());
}

TEST_F(RobotRealities, DocumentedRequestLimitPerHourEndsInRateLimited) {
  RobotFixtureOptions o;
  o.limits["POST /reset"] = 2;  // documented: 50 per hour
  RobotFixture robot(o, tls_dir_);
  auto d = Driver(Context(robot));
  ASSERT_TRUE(d->PowerCycle().ok());
  ASSERT_TRUE(d->PowerCycle().ok());
  Status s = d->PowerCycle();
  EXPECT_EQ(Reason(s).rfind("rate limited: ", 0), 0u) << Reason(s);
  EXPECT_NE(s.message().find("at most 2 of these requests per 3600 s"), std::string::npos) << s.message();
  EXPECT_EQ(robot.Actions(), (std::vector<std::string>{"reset hw", "reset hw"}));
  EXPECT_EQ(robot.Requests().size(), 5u);  // 2 resets, then 3 bounded attempts
}

TEST_F(RobotRealities, MaintenanceIsUnreachableAfterBoundedRetries) {
  RobotFixtureOptions o;
  o.maintenance = true;
  RobotFixture robot(o, tls_dir_);
  Status s = Driver(Context(robot))->PowerCycle();
  EXPECT_EQ(Reason(s).rfind("unreachable: Hetzner Robot reset hw of server 321: HTTP 503", 0), 0u) << Reason(s);
  EXPECT_NE(s.message().find("down for maintenance"), std::string::npos);
  EXPECT_EQ(robot.Requests().size(), 3u);
  robot.SetMaintenance(false);
  EXPECT_TRUE(Driver(Context(robot))->PowerCycle().ok());
}

TEST_F(RobotRealities, ManualResetPendingIsBusyAndNoResetIsUnsupported) {
  RobotFixtureOptions busy;
  busy.manual_reset_active = true;
  RobotFixture a(busy, tls_dir_);
  Status s = Driver(Context(a))->PowerCycle();
  EXPECT_EQ(Reason(s).rfind("busy: Hetzner Robot reset hw of server 321: HTTP 409 RESET_MANUAL_ACTIVE", 0), 0u)
      << Reason(s);
  EXPECT_EQ(a.Requests().size(), 1u);  // not retried

  RobotFixtureOptions none;
  none.reset_available = false;
  RobotFixture b(none, tls_dir_);
  Status u = Driver(Context(b))->PowerCycle();
  EXPECT_EQ(Reason(u).rfind("unsupported: Hetzner Robot reset hw of server 321: HTTP 404 RESET_NOT_AVAILABLE", 0), 0u)
      << Reason(u);
  EXPECT_NE(u.message().find("offers no reset"), std::string::npos);
}

TEST_F(RobotRealities, InvalidInputNamesTheField) {
  RobotFixture robot({}, tls_dir_);
  RobotClient c(robot.url(), "#ws+robotuser", Secret("robot-pass"),
                HttpClientOptions{std::chrono::seconds(3), true, robot.ca_file()}, RetryPolicy{1});
  Status s = c.Reset("321", "power");  // not among the offered sw, hw, man
  EXPECT_EQ(s.code(), ErrorCode::kUnsupported);
  EXPECT_NE(s.message().find("HTTP 400 INVALID_INPUT"), std::string::npos) << s.message();
  EXPECT_TRUE(robot.Actions().empty());
}

}  // namespace
}  // namespace metalpxe
