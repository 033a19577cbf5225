// Remote reinstall through a real IPMI BMC (OpenIPMI ipmi_sim): the
// provisioning service's reinstall jobs, over the power drivers
// (DriverPowerControl) and the daemon's event loop (AsioScheduler), set next
// boot to PXE and power the machine, wait for the installer to be served,
// retry a bounded number of times, and fail with a readable reason when the
// machine never comes back.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "core/provisioning/provisioning_service.h"
#include "daemon/asio_scheduler.h"
#include "ipmi/driver_power_control.h"
#include "tests/ipmi/ipmi_sim_fixture.h"
#include "tests/support/netns.h"

namespace metalpxe {
namespace {

using testing::NetNs;
using testing::ScopedNetNsEnter;

class ReinstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ns_ = std::make_unique<NetNs>("reinst");
    sim_ = std::make_unique<testing::IpmiSim>(ns_->name(), 9623, "secret");
    auto cfg = std::make_shared<AppConfig>();
    cfg->server.address = *Ipv4Address::Parse("127.0.0.1");
    ProfileConfig p;
    p.name = "default";
    cfg->profiles["default"] = p;
    auto inv = std::make_shared<Inventory>();
    MachineConfig m;
    m.name = "cp-1";
    m.macs = {mac_};
    m.profile = "default";
    BmcConfig bmc;
    bmc.type = BmcType::kIpmi;
    bmc.address = sim_->address();
    bmc.username = "admin";
    bmc.password = Secret("secret");
    bmc.workaround_flags = 0x10;  // ipmi_sim: open-session privilege workaround (LAB-NOTES.md)
    m.bmc = bmc;
    inv->machines.push_back(m);
    cfg->inventory = inv;
    cfg->dhcp.mode = DhcpMode::kProxy;
    source_ = std::make_unique<SwappableConfigSource>(cfg);
  }
  void TearDown() override {
    service_.reset();  // before the power control its jobs call
    power_.reset();
  }

  // The config's power section, as a reload would bring it.
  void SetPower(std::chrono::seconds pxe_timeout, int attempts, std::chrono::seconds min_interval) {
    auto cfg = std::make_shared<AppConfig>(*source_->Current());
    cfg->power.pxe_timeout = pxe_timeout;
    cfg->power.attempts = attempts;
    cfg->power.min_interval = min_interval;
    source_->Swap(cfg);
  }

  // The power control's worker threads are born inside the lab namespace,
  // so the BMC at 127.0.0.1 there is the one they reach.
  ProvisioningService& Make(PowerContext context = {}) {
    ScopedNetNsEnter enter(ns_->name());
    context.request_timeout = std::chrono::seconds(5);
    power_ = std::make_unique<DriverPowerControl>(io_, context);
    ProvisioningOptions o;
    o.token_key.fill(1);
    o.loader_exists = [](std::string_view) { return true; };
    service_ = std::make_unique<ProvisioningService>(*source_, nullptr, o, power_.get(), &scheduler_);
    return *service_;
  }
  MachineRegistry& registry() { return service_->registry(); }
  bool Wipes(const IpxeAnswer& a) {
    return std::find(a.kernel_args.begin(), a.kernel_args.end(), "talos.experimental.wipe=system") !=
           a.kernel_args.end();
  }
  IpxeAnswer InstallerFetch() { return service_->OnIpxe({mac_, *Ipv4Address::Parse("10.66.0.50"), "", "", "", ""}); }

  void RunUntil(const std::function<bool()>& done, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(50));
    }
  }

  const MacAddress mac_ = *MacAddress::Parse("52:54:00:12:34:56");
  boost::asio::io_context io_;
  std::unique_ptr<NetNs> ns_;
  std::unique_ptr<testing::IpmiSim> sim_;
  std::unique_ptr<SwappableConfigSource> source_;
  AsioScheduler scheduler_{io_};
  std::unique_ptr<DriverPowerControl> power_;
  std::unique_ptr<ProvisioningService> service_;
};

TEST_F(ReinstallTest, PowersTheMachineIntoPxeAndStopsWhenTheInstallerIsServed) {
  SetPower(std::chrono::seconds(30), 3, std::chrono::seconds(30));
  auto& service = Make();
  registry().Apply(mac_, LifecycleEvent::kConfigFetched, "test");
  registry().Apply(mac_, LifecycleEvent::kInstallFinished, "test");
  sim_->SetPower(false);
  ASSERT_TRUE(service.RequestReinstall(mac_, /*wipe=*/true).ok());
  EXPECT_EQ(registry().StateOf(mac_), MachineState::kReinstallRequested);
  // The BMC's power flips while the IPMI call is still returning; the job
  // counts the action once the call's completion reaches the loop. Wait for both.
  RunUntil([&] { return sim_->PowerFile() == "1" && service.power_actions_ok() == 1; }, std::chrono::seconds(30));
  ASSERT_EQ(sim_->PowerFile(), "1");
  // What the BMC saw: next boot from the network, then power on (it was off).
  const std::string log = sim_->SetLog();
  EXPECT_NE(log.find("boot pxe"), std::string::npos) << log;
  EXPECT_NE(log.find("power 1"), std::string::npos) << log;
  EXPECT_LT(log.find("boot pxe"), log.find("power 1")) << log;
  // Cross-check with a second IPMI client.
  EXPECT_NE(sim_->Ipmitool("chassis power status").output.find("Chassis Power is on"), std::string::npos);

  // The machine PXE-boots: its installer carries the wipe, once.
  EXPECT_TRUE(Wipes(InstallerFetch()));
  EXPECT_FALSE(Wipes(InstallerFetch()));
  EXPECT_EQ(registry().StateOf(mac_), MachineState::kPendingInstall);  // until it fetches its config
  EXPECT_EQ(service.power_actions_ok(), 1u);
  // A second request right away is refused by the power-action interval.
  const Status again = service.RequestReinstall(mac_, false);
  EXPECT_EQ(again.code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(again.message().find("try again in"), std::string::npos);
}

TEST_F(ReinstallTest, GivesUpWithAReasonWhenThePxeBootNeverComes) {
  // (Below the config's own bounds: the loader keeps users from such values.)
  SetPower(std::chrono::seconds(1), 2, std::chrono::seconds(0));
  auto& service = Make();
  ASSERT_TRUE(service.RequestReinstall(mac_, false).ok());
  RunUntil([&] { return registry().StateOf(mac_) == MachineState::kFailed; }, std::chrono::seconds(60));
  ASSERT_EQ(registry().StateOf(mac_), MachineState::kFailed);
  EXPECT_EQ(registry().Get(mac_)->reason, "no PXE boot within 1s after 2 power cycles");
  // Two attempts reached the BMC.
  const std::string log = sim_->SetLog();
  std::size_t n = 0;
  for (auto pos = log.find("boot pxe"); pos != std::string::npos; pos = log.find("boot pxe", pos + 1)) ++n;
  EXPECT_EQ(n, 2u) << log;
}

TEST_F(ReinstallTest, WrongBmcPasswordFailsWithAuthenticationReason) {
  auto cfg = std::make_shared<AppConfig>(*source_->Current());
  auto inv = std::make_shared<Inventory>(*cfg->inventory);
  inv->machines[0].bmc->password = Secret("wrong");
  cfg->inventory = inv;
  source_->Swap(cfg);
  PowerContext context;
  context.retry.max_attempts = 1;
  auto& service = Make(context);
  ASSERT_TRUE(service.RequestReinstall(mac_, false).ok());
  RunUntil([&] { return registry().StateOf(mac_) == MachineState::kFailed; }, std::chrono::seconds(60));
  ASSERT_EQ(registry().StateOf(mac_), MachineState::kFailed);
  EXPECT_EQ(registry().Get(mac_)->reason.rfind("authentication failed", 0), 0u) << registry().Get(mac_)->reason;
}

// A BMC that does not answer at all (its address is routed to a MAC nobody
// has, so every packet is dropped): `power status` ends, with the daemon's
// own default timeouts and retries, before metalpxectl's 120 s deadline for
// power calls, and the reason names the BMC and says it timed out.
TEST_F(ReinstallTest, PowerStatusOnABmcThatDoesNotAnswerEndsWithAReason) {
  ns_->Ip({"link", "add", "bmc-a", "type", "veth", "peer", "name", "bmc-b"});
  ns_->Ip({"addr", "add", "10.88.0.1/24", "dev", "bmc-a"});
  ns_->Ip({"link", "set", "bmc-a", "up"});
  ns_->Ip({"link", "set", "bmc-b", "up"});
  ns_->Ip({"neigh", "add", "10.88.0.9", "lladdr", "02:00:00:00:00:99", "dev", "bmc-a"});
  auto cfg = std::make_shared<AppConfig>(*source_->Current());
  auto inv = std::make_shared<Inventory>(*cfg->inventory);
  inv->machines[0].bmc->address = "10.88.0.9";
  cfg->inventory = inv;
  source_->Swap(cfg);
  auto& service = Make();
  std::optional<Result<std::string>> got;
  service.Power(mac_, PowerAction::kStatus, [&](Result<std::string> r) { got = std::move(r); });
  RunUntil([&] { return got.has_value(); }, std::chrono::seconds(120));
  ASSERT_TRUE(got.has_value()) << "no answer within metalpxectl's deadline for power calls";
  ASSERT_FALSE(got->ok());
  EXPECT_EQ(got->status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(got->status().message().find("10.88.0.9"), std::string::npos) << got->status().message();
  EXPECT_NE(got->status().message().find("timeout"), std::string::npos) << got->status().message();
}

TEST_F(ReinstallTest, MachineWithoutABmcIsRefusedUpFront) {
  auto cfg = std::make_shared<AppConfig>(*source_->Current());
  auto inv = std::make_shared<Inventory>(*cfg->inventory);
  inv->machines[0].bmc.reset();
  cfg->inventory = inv;
  source_->Swap(cfg);
  auto& service = Make();
  EXPECT_EQ(service.RequestReinstall(mac_, false).code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(service.RequestReinstall(*MacAddress::Parse("52:54:00:00:00:99"), false).code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace metalpxe
