// IpmiPowerDriver against OpenIPMI's ipmi_sim (a real IPMI 2.0 lanplus BMC),
// cross-checked with ipmitool reading the state back. All inside a network
// namespace on 127.0.0.1.
#include <gtest/gtest.h>

#include "ipmi/ipmi_driver.h"
#include "ipmi/power_driver.h"
#include "tests/ipmi/ipmi_sim_fixture.h"
#include "tests/support/netns.h"

namespace metalpxe {
namespace {

using testing::IpmiSim;
using testing::NetNs;
using testing::ScopedNetNsEnter;

constexpr std::uint32_t kOpenSessionPrivilege = 0x10;  // IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE

// Against the simulator: a loaded machine (CI's two cores, tests beside)
// can keep ipmi_sim and its chassis-control script from answering within a
// second or two; the daemon's own default is 10 s per request.
PowerContext SimContext() {
  PowerContext c;
  c.request_timeout = std::chrono::milliseconds(8000);
  c.retry.max_attempts = 3;
  c.retry.initial_backoff = std::chrono::milliseconds(50);
  return c;
}

// Where nothing answers: short, so the test spends little time waiting.
PowerContext FastContext() {
  PowerContext c;
  c.request_timeout = std::chrono::milliseconds(1500);
  c.retry.max_attempts = 2;
  c.retry.initial_backoff = std::chrono::milliseconds(50);
  return c;
}

BmcConfig Bmc(const std::string& address, const std::string& password) {
  BmcConfig b;
  b.type = BmcType::kIpmi;
  b.address = address;
  b.username = "admin";
  b.password = Secret(password);
  b.cipher_suite = 3;
  b.workaround_flags = kOpenSessionPrivilege;
  return b;
}

class PowerIpmi : public ::testing::Test {
 protected:
  NetNs ns_{"pwipmi"};
  IpmiSim sim_{ns_.name(), 9623, "s3cret-pw"};
  ScopedNetNsEnter enter_{ns_.name()};  // the driver's sockets live in the namespace

  std::unique_ptr<PowerDriver> Driver(const BmcConfig& bmc, PowerContext context = SimContext()) {
    auto d = MakePowerDriver(bmc, MacAddress{}, context);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return std::move(d).value();
  }
};

TEST_F(PowerIpmi, StatusOnOffMatchIpmitool) {
  auto d = Driver(Bmc(sim_.address(), "s3cret-pw"));
  EXPECT_EQ(d->Kind(), "ipmi");
  auto st = d->GetPowerState();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(*st, PowerState::kOff);

  ASSERT_TRUE(d->PowerOn().ok());
  EXPECT_NE(sim_.Ipmitool("chassis power status").output.find("Chassis Power is on"), std::string::npos);
  st = d->GetPowerState();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, PowerState::kOn);

  ASSERT_TRUE(d->PowerOff().ok());
  EXPECT_NE(sim_.Ipmitool("chassis power status").output.find("Chassis Power is off"), std::string::npos);
  EXPECT_EQ(sim_.SetLog(), "power 1\npower 0\n");
}

TEST_F(PowerIpmi, CycleOfAMachineThatIsOffPowersItOn) {
  auto d = Driver(Bmc(sim_.address(), "s3cret-pw"));
  ASSERT_TRUE(d->PowerCycle().ok());
  EXPECT_EQ(sim_.SetLog(), "power 1\n");  // an "on", not a cycle
  EXPECT_NE(sim_.Ipmitool("chassis power status").output.find("Chassis Power is on"), std::string::npos);
}

TEST_F(PowerIpmi, CycleOfARunningMachineCycles) {
  sim_.SetPower(true);
  auto d = Driver(Bmc(sim_.address(), "s3cret-pw"));
  ASSERT_TRUE(d->PowerCycle().ok());
  // ipmi_sim turns a cycle into "power 0" (and "power 1" after its delay).
  EXPECT_EQ(sim_.SetLog().rfind("power 0\n", 0), 0u) << sim_.SetLog();
}

TEST_F(PowerIpmi, NextBootPxeReadsBackThroughIpmitool) {
  auto d = Driver(Bmc(sim_.address(), "s3cret-pw"));
  ASSERT_TRUE(d->SetNextBootNetwork(/*efi=*/true).ok());
  EXPECT_NE(sim_.SetLog().find("boot pxe"), std::string::npos) << sim_.SetLog();
  auto param = sim_.Ipmitool("chassis bootparam get 5");
  EXPECT_NE(param.output.find("Force PXE"), std::string::npos) << param.output;
  ASSERT_TRUE(d->SetNextBootNetwork(/*efi=*/false).ok());
}

TEST_F(PowerIpmi, WrongPasswordIsAnAuthenticationError) {
  auto d = Driver(Bmc(sim_.address(), "not-the-password"));
  auto st = d->GetPowerState();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), ErrorCode::kPermissionDenied) << st.status().ToString();
  EXPECT_EQ(PowerFailureReason(st.status()).rfind("authentication failed: ", 0), 0u);
  EXPECT_EQ(st.status().message().find("not-the-password"), std::string::npos);  // never echoes the secret
  EXPECT_EQ(sim_.SetLog(), "");
}

TEST_F(PowerIpmi, MissingWorkaroundIsExplained) {
  auto bmc = Bmc(sim_.address(), "s3cret-pw");
  bmc.workaround_flags = 0;
  auto st = Driver(bmc)->PowerOn();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), ErrorCode::kPermissionDenied) << st.ToString();
  EXPECT_NE(st.message().find("0x10"), std::string::npos) << st.message();
}

TEST_F(PowerIpmi, UnsupportedCipherSuiteIsClassified) {
  auto bmc = Bmc(sim_.address(), "s3cret-pw");
  bmc.cipher_suite = 17;  // ipmi_sim implements 0..14
  auto st = Driver(bmc)->GetPowerState();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().code(), ErrorCode::kOk);
  EXPECT_FALSE(PowerFailureReason(st.status()).empty());
}

TEST_F(PowerIpmi, UnreachableBmcIsUnavailableAfterRetries) {
  auto d = Driver(Bmc("127.0.0.1:9624", "s3cret-pw"), FastContext());  // nothing listens there
  auto st = d->PowerCycle();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), ErrorCode::kUnavailable) << st.ToString();
  EXPECT_EQ(PowerFailureReason(st).rfind("unreachable: ", 0), 0u);
}

}  // namespace
}  // namespace metalpxe
