// RedfishPowerDriver against the Redfish fixture (DMTF resource shapes),
// with redfishtool as an independent client reading state back. Everything
// listens on 127.0.0.1 inside a test network namespace.
#include <gtest/gtest.h>

#include <filesystem>

#include "ipmi/power_driver.h"
#include "ipmi/redfish_driver.h"
#include "tests/ipmi/redfish_fixture.h"
#include "tests/support/netns.h"
#include "tests/support/subprocess.h"

namespace metalpxe {
namespace {

using testing::NetNs;
using testing::RedfishFixture;
using testing::RedfishFixtureOptions;
using testing::RunCommand;
using testing::ScopedNetNsEnter;

PowerContext FastContext() {
  PowerContext c;
  c.request_timeout = std::chrono::milliseconds(2000);
  c.retry.max_attempts = 2;
  c.retry.initial_backoff = std::chrono::milliseconds(50);
  return c;
}

BmcConfig Bmc(const std::string& url, const std::string& password = "secret") {
  BmcConfig b;
  b.type = BmcType::kRedfish;
  b.address = url;
  b.username = "admin";
  b.password = Secret(password);
  return b;
}

class PowerRedfish : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mpx-redfish-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<PowerDriver> Driver(const BmcConfig& bmc, PowerContext ctx = FastContext()) {
    auto d = MakePowerDriver(bmc, MacAddress{}, ctx);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : nullptr;
  }
  RedfishFixtureOptions Tls(RedfishFixtureOptions o = {}) {
    auto [cert, key] = testing::MakeSelfSignedCert(dir_);
    o.tls_cert = cert;
    o.tls_key = key;
    return o;
  }
  // redfishtool, a real Redfish client (it talks HTTPS whenever it sends credentials).
  testing::CommandResult RedfishTool(const RedfishFixture& f, const std::string& args) {
    return RunCommand({"sh", "-c",
                       "redfishtool -r 127.0.0.1:" + std::to_string(f.port()) + " -u admin -p secret -A Session -S Always " + args},
                      std::chrono::seconds(60), ns_.name());
  }

  NetNs ns_{"pwrf"};
  ScopedNetNsEnter enter_{ns_.name()};
  std::string dir_;
};

TEST_F(PowerRedfish, FindsTheSystemReadsPowerAndClosesItsSession) {
  RedfishFixture bmc;
  {
    auto d = Driver(Bmc(bmc.url()));
    auto st = d->GetPowerState();
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    EXPECT_EQ(*st, PowerState::kOff);
    EXPECT_EQ(bmc.sessions_open(), 1);
  }
  EXPECT_EQ(bmc.sessions_open(), 0);  // DELETEd on destruction
  auto reqs = bmc.Requests();
  EXPECT_NE(std::find(reqs.begin(), reqs.end(), "GET /redfish/v1/Systems"), reqs.end());
}

TEST_F(PowerRedfish, CycleOfAnOffSystemSwitchesItOnThenCyclesWithPowerCycle) {
  RedfishFixture bmc;
  auto d = Driver(Bmc(bmc.url()));
  ASSERT_TRUE(d->PowerCycle().ok());
  ASSERT_TRUE(d->PowerCycle().ok());
  ASSERT_TRUE(d->PowerOff().ok());
  ASSERT_TRUE(d->PowerOn().ok());
  ASSERT_TRUE(d->PowerOn().ok());  // already on: nothing sent
  EXPECT_EQ(bmc.resets(), (std::vector<std::string>{"On", "PowerCycle", "ForceOff", "On"}));
  EXPECT_EQ(bmc.power(), "On");
}

TEST_F(PowerRedfish, CycleUsesWhatTheBmcAllows) {
  RedfishFixtureOptions restart;
  restart.reset_types = {"On", "ForceOff", "ForceRestart"};
  RedfishFixture a(restart);
  a.set_power("On");
  ASSERT_TRUE(Driver(Bmc(a.url()))->PowerCycle().ok());
  EXPECT_EQ(a.resets(), std::vector<std::string>{"ForceRestart"});

  RedfishFixtureOptions off_on;
  off_on.reset_types = {"On", "ForceOff"};
  RedfishFixture b(off_on);
  b.set_power("On");
  ASSERT_TRUE(Driver(Bmc(b.url()))->PowerCycle().ok());
  EXPECT_EQ(b.resets(), (std::vector<std::string>{"ForceOff", "On"}));
}

TEST_F(PowerRedfish, UnsupportedResetTypeIsClassified) {
  RedfishFixtureOptions o;
  o.reset_types = {"Nmi", "GracefulRestart"};
  RedfishFixture bmc(o);
  auto d = Driver(Bmc(bmc.url()));
  Status on = d->PowerOn();
  EXPECT_EQ(on.code(), ErrorCode::kUnsupported) << on.ToString();
  EXPECT_NE(on.message().find("Nmi"), std::string::npos);
  bmc.set_power("On");
  Status cycle = d->PowerCycle();
  EXPECT_EQ(cycle.code(), ErrorCode::kUnsupported) << cycle.ToString();
  EXPECT_EQ(PowerFailureReason(cycle).rfind("unsupported: ", 0), 0u);
  EXPECT_TRUE(bmc.resets().empty());
}

TEST_F(PowerRedfish, PxeOnceWithIfMatchAndReadBack) {
  RedfishFixture bmc;
  auto d = Driver(Bmc(bmc.url()));
  ASSERT_TRUE(d->SetNextBootNetwork(/*efi=*/true).ok());
  EXPECT_EQ(bmc.boot_target(), "Pxe");
  EXPECT_EQ(bmc.boot_enabled(), "Once");
  EXPECT_EQ(bmc.boot_mode(), "UEFI");
  ASSERT_EQ(bmc.if_match_seen().size(), 1u);
  EXPECT_EQ(bmc.if_match_seen()[0].rfind("W/\"", 0), 0u);
  ASSERT_TRUE(d->SetNextBootNetwork(/*efi=*/false).ok());
  EXPECT_EQ(bmc.boot_mode(), "Legacy");
}

TEST_F(PowerRedfish, PreconditionFailedRefetchesAndRetriesOnce) {
  RedfishFixtureOptions o;
  o.fail_patches_with_412 = 1;
  RedfishFixture once(o);
  ASSERT_TRUE(Driver(Bmc(once.url()))->SetNextBootNetwork(true).ok());
  EXPECT_EQ(once.patches_seen(), 2);
  EXPECT_NE(once.if_match_seen()[0], once.if_match_seen()[1]);  // the second carries the new ETag

  o.fail_patches_with_412 = 5;
  RedfishFixture always(o);
  Status s = Driver(Bmc(always.url()))->SetNextBootNetwork(true);
  EXPECT_EQ(s.code(), ErrorCode::kInternal) << s.ToString();
  EXPECT_EQ(always.patches_seen(), 2);  // once, then one retry: no loop
}

TEST_F(PowerRedfish, BmcWithoutBootModeGetsNoModeInThePatch) {
  RedfishFixtureOptions o;
  o.boot_mode_supported = false;
  RedfishFixture bmc(o);
  ASSERT_TRUE(Driver(Bmc(bmc.url()))->SetNextBootNetwork(true).ok());
  EXPECT_EQ(bmc.boot_target(), "Pxe");
}

TEST_F(PowerRedfish, WrongPasswordIsAnAuthenticationErrorWithSessionsAndBasic) {
  RedfishFixture sessions;
  auto st = Driver(Bmc(sessions.url(), "wrong-pw"))->GetPowerState();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), ErrorCode::kPermissionDenied) << st.status().ToString();
  EXPECT_EQ(st.status().message().find("wrong-pw"), std::string::npos);

  RedfishFixtureOptions o;
  o.sessions = false;
  RedfishFixture basic(o);
  EXPECT_TRUE(Driver(Bmc(basic.url()))->PowerOn().ok());
  EXPECT_EQ(basic.resets(), std::vector<std::string>{"On"});
  Status s = Driver(Bmc(basic.url(), "wrong-pw"))->PowerOff();
  EXPECT_EQ(s.code(), ErrorCode::kPermissionDenied) << s.ToString();
}

TEST_F(PowerRedfish, UnreachableBmcIsUnavailable) {
  std::uint16_t port = 0;
  {
    RedfishFixture gone;
    port = gone.port();
  }
  auto st = Driver(Bmc("http://127.0.0.1:" + std::to_string(port)))->GetPowerState();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), ErrorCode::kUnavailable) << st.status().ToString();
  EXPECT_EQ(PowerFailureReason(st.status()).rfind("unreachable: ", 0), 0u);
}

TEST_F(PowerRedfish, TlsIsVerifiedByDefault) {
  RedfishFixture bmc(Tls());
  auto st = Driver(Bmc(bmc.url()))->GetPowerState();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), ErrorCode::kPermissionDenied) << st.status().ToString();
  EXPECT_NE(st.status().message().find("insecureSkipVerify"), std::string::npos);

  auto insecure = Bmc(bmc.url());
  insecure.insecure_tls = true;
  EXPECT_TRUE(Driver(insecure)->GetPowerState().ok());

  auto ctx = FastContext();
  ctx.ca_file = dir_ + "/cert.pem";  // trusting the fixture's own certificate
  EXPECT_TRUE(Driver(Bmc(bmc.url()), ctx)->PowerOn().ok());
  EXPECT_EQ(bmc.power(), "On");
}

TEST_F(PowerRedfish, ConfiguredSystemPathIsUsedDirectly) {
  RedfishFixture bmc;
  auto d = Driver(Bmc(bmc.url() + "/redfish/v1/Systems/1"));
  ASSERT_TRUE(d->GetPowerState().ok());
  auto reqs = bmc.Requests();
  EXPECT_EQ(std::find(reqs.begin(), reqs.end(), "GET /redfish/v1/Systems"), reqs.end());
}

TEST_F(PowerRedfish, RedfishtoolSeesWhatTheDriverDidAndDrivesTheFixtureToo) {
  RedfishFixture bmc(Tls());
  auto bmc_cfg = Bmc(bmc.url());
  bmc_cfg.insecure_tls = true;
  auto d = Driver(bmc_cfg);
  ASSERT_TRUE(d->SetNextBootNetwork(true).ok());
  ASSERT_TRUE(d->PowerCycle().ok());

  auto get = RedfishTool(bmc, "Systems -I 1 get");
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_NE(get.output.find("\"BootSourceOverrideTarget\": \"Pxe\""), std::string::npos) << get.output;
  EXPECT_NE(get.output.find("\"BootSourceOverrideEnabled\": \"Once\""), std::string::npos) << get.output;
  EXPECT_NE(get.output.find("\"PowerState\": \"On\""), std::string::npos) << get.output;

  // And the other way round: redfishtool's own reset and boot override land in the fixture.
  auto reset = RedfishTool(bmc, "Systems -I 1 reset ForceOff");
  EXPECT_EQ(reset.exit_code, 0) << reset.output;
  EXPECT_EQ(bmc.power(), "Off");
  auto over = RedfishTool(bmc, "Systems -I 1 setBootOverride Once Hdd");
  EXPECT_EQ(over.exit_code, 0) << over.output;
  EXPECT_EQ(bmc.boot_target(), "Hdd");
  auto st = d->GetPowerState();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, PowerState::kOff);
}

}  // namespace
}  // namespace metalpxe
