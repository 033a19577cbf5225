// secureBoot uki: when a fetched UKI makes its machine an apply target.
#include "core/provisioning/uki_fetch.h"

#include <gtest/gtest.h>

namespace metalpxe {
namespace {

const Ipv4Address kIp = *Ipv4Address::Parse("10.66.0.50");
const Ipv4Address kOther = *Ipv4Address::Parse("10.66.0.77");

struct Fixture {
  AppConfig config;
  MachineConfig machine;
  Fixture() {
    config.profiles["sb"].name = "sb";
    config.profiles["sb"].secure_boot = SecureBootChain::kUki;
    config.profiles["sb"].config_delivery = ConfigDelivery::kApply;
    machine.name = "cp-1";
    machine.profile = "sb";
  }
  BootDecision Install() {
    BootDecision d;
    d.action = BootAction::kInstall;
    d.machine_name = machine.name;
    d.profile = &config.profiles["sb"];
    d.machine = &machine;
    return d;
  }
};

TEST(UkiFetch, AnInstallingUkiMachineAtItsOwnAddressIsATarget) {
  Fixture f;
  const auto v = JudgeUkiFetch(f.config, f.Install(), SecureBootChain::kUki, "sb", kIp, kIp);
  EXPECT_TRUE(v.apply) << v.why;
}

TEST(UkiFetch, EveryOtherCaseSaysWhy) {
  Fixture f;
  BootDecision installed = f.Install();
  installed.action = BootAction::kBootFromDisk;
  installed.why = "installed";
  const struct {
    BootDecision d;
    SecureBootChain chain;
    std::string profile;
    std::optional<Ipv4Address> holds;
    std::string why;
  } cases[] = {
      {installed, SecureBootChain::kUki, "sb", kIp, "not installing (installed)"},
      {f.Install(), SecureBootChain::kShim, "sb", kIp, "the machine boots with secureBoot shim, not uki"},
      {f.Install(), SecureBootChain::kNone, "sb", kIp, "the machine boots with secureBoot none, not uki"},
      {f.Install(), SecureBootChain::kUki, "other", kIp, "the UKI is profile other's, the machine installs with sb"},
      {f.Install(), SecureBootChain::kUki, "sb", std::nullopt, "no lease for that MAC"},
      {f.Install(), SecureBootChain::kUki, "sb", kOther, "fetched from 10.66.0.50, that MAC holds 10.66.0.77"},
  };
  for (const auto& c : cases) {
    const auto v = JudgeUkiFetch(f.config, c.d, c.chain, c.profile, c.holds, kIp);
    EXPECT_FALSE(v.apply) << c.why;
    EXPECT_EQ(v.why, c.why);
  }
  // A machine whose own configDelivery is url (refused at load; a config
  // built in code): its config cannot reach the UKI.
  f.machine.config_delivery = ConfigDelivery::kUrl;
  const auto v = JudgeUkiFetch(f.config, f.Install(), SecureBootChain::kUki, "sb", kIp, kIp);
  EXPECT_FALSE(v.apply);
  EXPECT_EQ(v.why, "configDelivery url cannot reach a UKI (it ignores the command line)");
}

}  // namespace
}  // namespace metalpxe
