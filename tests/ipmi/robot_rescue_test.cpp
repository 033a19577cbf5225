// The Hetzner rescue reinstall with installMethod image, end to end on one
// host: the Robot fixture (HTTPS) activates rescue and lists the rescue
// system's host key; its reset starts a real OpenSSH sshd (the "rescue
// system", in the test's network namespace); the driver pins that host key,
// streams the zstd Talos image from a local file into it, and the rescue
// side (real sha256sum, zstd, dd) writes it onto a loop device, reads it
// back, and a second reset "boots Talos from disk". A rescue system with
// another host key gets nothing: no login attempt, no image, disk untouched.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <fstream>
#include <random>
#include <sstream>

#include <boost/asio/io_context.hpp>

#include "ipmi/driver_power_control.h"
#include "ipmi/power_driver.h"
#include "tests/ipmi/rescue_sshd.h"
#include "tests/ipmi/robot_fixture.h"
#include "tests/support/netns.h"
#include "tests/support/subprocess.h"

namespace metalpxe {
namespace {

using testing::NetNs;
using testing::RescueSshd;
using testing::RobotFixture;
using testing::RobotFixtureOptions;
using testing::RunCommand;
using testing::ScopedNetNsEnter;

std::string ReadAll(const std::string& path, std::size_t limit = std::string::npos) {
  std::ifstream in(path, std::ios::binary);
  std::string out;
  std::vector<char> buf(64 * 1024);
  while (out.size() < limit) {
    in.read(buf.data(), std::streamsize(buf.size()));
    if (in.gcount() <= 0) break;
    out.append(buf.data(), std::size_t(in.gcount()));
  }
  return limit == std::string::npos ? out : out.substr(0, limit);
}

std::string Sha256Of(const std::string& path) {
  auto r = RunCommand({"sha256sum", path});
  return r.output.substr(0, 64);
}

class RobotRescueImage : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mpx-rescue-img-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // A "Talos metal image": 3 MiB of varied bytes, zstd-compressed like Image Factory's.
    std::mt19937 rng(16);
    std::string raw(3 << 20, '\0');
    for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = char(i % 4096 < 2048 ? rng() & 0xff : i & 0x0f);
    std::ofstream(dir_ + "/metal-amd64.raw", std::ios::binary) << raw;
    ASSERT_EQ(RunCommand({"zstd", "-q", "-f", dir_ + "/metal-amd64.raw", "-o", dir_ + "/metal-amd64.raw.zst"}).exit_code, 0);
    raw_ = raw;
    // The install disk: a loop device over an 8 MiB file of 0xee bytes.
    std::ofstream(dir_ + "/disk.img", std::ios::binary) << std::string(8 << 20, '\xee');
    auto loop = RunCommand({"losetup", "-f", "--show", dir_ + "/disk.img"});
    ASSERT_EQ(loop.exit_code, 0) << loop.output;
    loop_ = loop.output.substr(0, loop.output.find('\n'));
  }
  void TearDown() override {
    if (!loop_.empty()) RunCommand({"losetup", "-d", loop_});
    std::filesystem::remove_all(dir_);
  }

  PowerContext Context(const RobotFixture& robot, const RescueSshd& rescue) {
    PowerContext c;
    c.request_timeout = std::chrono::milliseconds(3000);
    c.retry.max_attempts = 2;
    c.retry.initial_backoff = std::chrono::milliseconds(20);
    c.robot_base_url = robot.url();
    c.robot_ca_file = robot.ca_file();
    c.ssh_port = rescue.port();
    key_file_ = rescue.client_key();  // handed over as the daemon does: in the machine's bmc
    c.rescue_timeout = std::chrono::seconds(20);
    return c;
  }
  std::unique_ptr<PowerDriver> Driver(const PowerContext& ctx) {
    BmcConfig b;
    b.type = BmcType::kHetznerRobot;
    b.address = "321";
    b.username = "#ws+robotuser";
    b.password = Secret("robot-pass");
    b.ssh_key_file = key_file_;  // bmc.sshKeyFile; the fingerprint is derived from it
    auto d = MakePowerDriver(b, MacAddress{}, ctx);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : nullptr;
  }
  ReinstallPlan ImagePlan(const std::string& disk) {
    ReinstallPlan plan;
    plan.image = DiskImageInstall{dir_ + "/metal-amd64.raw.zst", Sha256Of(dir_ + "/metal-amd64.raw.zst"), "zstd", disk};
    return plan;
  }
  std::string Disk(std::size_t n) { return ReadAll(dir_ + "/disk.img", n); }

  NetNs ns_{"rbtimg"};
  ScopedNetNsEnter enter_{ns_.name()};
  std::string dir_, loop_, raw_, key_file_;
};

TEST_F(RobotRescueImage, WritesTheVerifiedImageToTheDiskAndBootsIt) {
  RescueSshd rescue(ns_.name(), testing::FreeTcpPort());
  RobotFixtureOptions o;
  o.rescue_host_keys = {rescue.HostPublicKey()};
  std::vector<std::string> boots;  // what each reset booted
  o.on_reset = [&](const std::string& type, bool active, const std::string&) {
    boots.push_back(type + (active ? " -> rescue" : " -> disk"));
    if (active) rescue.Start();
  };
  RobotFixture robot(o, dir_);
  auto d = Driver(Context(robot, rescue));
  Status s = StartReinstall(*d, ImagePlan(loop_));
  ASSERT_TRUE(s.ok()) << s.ToString() << "\nsshd:\n" << rescue.SshdLog();
  EXPECT_EQ(Disk(raw_.size()), raw_);                         // the image, byte for byte
  EXPECT_EQ(Disk(raw_.size() + 16).substr(raw_.size()), std::string(16, '\xee'));  // and not past it
  // The gentlest reset the server offers (sw, a clean reboot) booted the
  // rescue system, and the same kind boots the disk.
  EXPECT_EQ(boots, (std::vector<std::string>{"sw -> rescue", "sw -> disk"}));
  const auto actions = robot.Actions();
  ASSERT_EQ(actions.size(), 3u);
  EXPECT_EQ(actions[0].rfind("rescue linux ", 0), 0u);
  EXPECT_EQ(actions[1], "reset sw");
  EXPECT_EQ(actions[2], "reset sw");
  EXPECT_NE(rescue.SshdLog().find("Accepted publickey for root"), std::string::npos);
}

TEST_F(RobotRescueImage, ResetEscalatesWhenTheRescueSystemDoesNotComeUp) {
  // A hung OS ignores Ctrl+Alt+Del (sw): only the hardware reset boots rescue.
  RescueSshd rescue(ns_.name(), testing::FreeTcpPort());
  RobotFixtureOptions o;
  o.rescue_host_keys = {rescue.HostPublicKey()};
  o.on_reset = [&](const std::string& type, bool active, const std::string&) {
    if (type == "hw" && active) rescue.Start();
  };
  RobotFixture robot(o, dir_);
  auto ctx = Context(robot, rescue);
  ctx.rescue_timeout = std::chrono::seconds(3);
  Status s = StartReinstall(*Driver(ctx), ImagePlan(loop_));
  ASSERT_TRUE(s.ok()) << s.ToString();
  const auto actions = robot.Actions();
  ASSERT_EQ(actions.size(), 5u) << ::testing::PrintToString(actions);
  EXPECT_EQ(actions[1], "reset sw");
  EXPECT_EQ(actions[2].rfind("rescue linux ", 0), 0u);  // activated again: fresh host keys to pin
  EXPECT_EQ(actions[3], "reset hw");
  EXPECT_EQ(actions[4], "reset hw");  // into Talos with the reset that works
  EXPECT_EQ(Disk(raw_.size()), raw_);
}

TEST_F(RobotRescueImage, ARescueWithAnotherHostKeyGetsNothing) {
  RescueSshd rescue(ns_.name(), testing::FreeTcpPort());
  RescueSshd impostor_keys(ns_.name(), testing::FreeTcpPort());  // only its host key is used
  RobotFixtureOptions o;
  o.rescue_host_keys = {impostor_keys.HostPublicKey()};  // Robot lists a key this sshd does not have
  o.on_reset = [&](const std::string&, bool active, const std::string&) {
    if (active) rescue.Start();
  };
  RobotFixture robot(o, dir_);
  auto ctx = Context(robot, rescue);
  ctx.rescue_timeout = std::chrono::seconds(4);
  Status s = StartReinstall(*Driver(ctx), ImagePlan(loop_));
  ASSERT_FALSE(s.ok());
  const std::string reason = PowerFailureReason(s);
  EXPECT_EQ(reason.rfind("authentication failed: rescue system of server 321 never proved itself: ", 0), 0u) << reason;
  EXPECT_NE(reason.find("host key not among the ones Robot listed"), std::string::npos) << reason;
  EXPECT_NE(reason.find("nothing was sent"), std::string::npos) << reason;
  ASSERT_TRUE(rescue.started());
  const std::string log = rescue.SshdLog();
  EXPECT_EQ(log.find("publickey"), std::string::npos) << log;  // not even a login attempt
  EXPECT_EQ(log.find("Accepted"), std::string::npos) << log;
  EXPECT_EQ(Disk(64), std::string(64, '\xee'));                 // disk untouched
  EXPECT_EQ(robot.Actions().size(), 2u);                        // rescue + one reset; no boot into "Talos"
}

TEST_F(RobotRescueImage, NoHostKeysFromRobotMeansNoResetAtAll) {
  RescueSshd rescue(ns_.name(), testing::FreeTcpPort());
  RobotFixture robot({}, dir_);  // lists no host keys
  Status s = StartReinstall(*Driver(Context(robot, rescue)), ImagePlan(loop_));
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("does not trust a host key on first use"), std::string::npos) << s.message();
  const auto actions = robot.Actions();
  ASSERT_EQ(actions.size(), 1u);  // rescue activated, the server never reset
  EXPECT_EQ(actions[0].rfind("rescue linux ", 0), 0u);
}

TEST_F(RobotRescueImage, AnImageThatArrivesDifferentNeverReachesTheDisk) {
  RescueSshd rescue(ns_.name(), testing::FreeTcpPort());
  RobotFixtureOptions o;
  o.rescue_host_keys = {rescue.HostPublicKey()};
  o.on_reset = [&](const std::string&, bool active, const std::string&) {
    if (active) rescue.Start();
  };
  RobotFixture robot(o, dir_);
  auto plan = ImagePlan(loop_);
  plan.image->sha256 = std::string(64, 'a');  // what the cache vouched for is not what is sent
  Status s = StartReinstall(*Driver(Context(robot, rescue)), plan);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("exit 4"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("disk untouched"), std::string::npos) << s.message();
  EXPECT_EQ(Disk(64), std::string(64, '\xee'));
}

TEST_F(RobotRescueImage, AnInstallDiskThatIsNotThereIsNamed) {
  RescueSshd rescue(ns_.name(), testing::FreeTcpPort());
  RobotFixtureOptions o;
  o.rescue_host_keys = {rescue.HostPublicKey()};
  o.on_reset = [&](const std::string&, bool active, const std::string&) {
    if (active) rescue.Start();
  };
  RobotFixture robot(o, dir_);
  Status s = StartReinstall(*Driver(Context(robot, rescue)),
                            ImagePlan("/dev/disk/by-id/nvme-SAMSUNG_MZVL2512HCJQ-00B00_S000000"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("exit 3"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("nvme-SAMSUNG_MZVL2512HCJQ-00B00_S000000 is not a block device here"), std::string::npos)
      << s.message();
}

TEST_F(RobotRescueImage, TheDaemonsPowerControlResolvesTheImageAndHandsOverTheMachinesKey) {
  // As metalpxed wires it: DriverPowerControl builds the driver from the
  // inventory machine (its bmc carries the key), asks the image source (the
  // asset cache in the daemon) for the profile's metal image on a worker, and
  // completes on the io_context.
  RescueSshd rescue(ns_.name(), testing::FreeTcpPort());
  RobotFixtureOptions o;
  o.rescue_host_keys = {rescue.HostPublicKey()};
  o.on_reset = [&](const std::string&, bool active, const std::string&) {
    if (active) rescue.Start();
  };
  RobotFixture robot(o, dir_);
  boost::asio::io_context io;
  std::vector<std::string> asked;
  const std::string image_file = dir_ + "/metal-amd64.raw.zst";
  DriverPowerControl power(io, Context(robot, rescue), MakePowerDriver,
                           [&](const ProfileConfig& p) -> Result<DiskImageInstall> {
                             asked.push_back(p.name);
                             return DiskImageInstall{image_file, Sha256Of(image_file), "zstd", ""};
                           });
  MachineConfig m;
  m.name = "hz-1";
  m.macs = {*MacAddress::Parse("a8:a1:59:00:00:01")};
  m.bmc = BmcConfig{};
  m.bmc->type = BmcType::kHetznerRobot;
  m.bmc->address = "321";
  m.bmc->username = "#ws+robotuser";
  m.bmc->password = Secret("robot-pass");
  m.bmc->ssh_key_file = rescue.client_key();
  auto ability = power.AbilityOf(m);
  ASSERT_TRUE(ability.ok());
  EXPECT_TRUE(ability->kexec);  // the rescue path
  ReinstallPowerPlan plan;
  ProfileConfig profile;
  profile.name = "hetzner";
  plan.image = ReinstallPowerPlan::DiskImage{profile, loop_};
  std::optional<Status> done;
  std::optional<ReinstallReached> reached;
  power.Reinstall(m, plan, [&](Result<ReinstallReached> r) {
    done = r.ok() ? Status::Ok() : r.status();
    if (r.ok()) reached = *r;
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(done.has_value());
  ASSERT_TRUE(done->ok()) << done->ToString();
  EXPECT_EQ(asked, std::vector<std::string>{"hetzner"});
  EXPECT_EQ(Disk(raw_.size()), raw_);
  // Where the server is now: the address Robot lists for it (GET /server/321).
  ASSERT_TRUE(reached && reached->address);
  EXPECT_EQ(reached->address->ToString(), "127.0.0.1");
  EXPECT_EQ(reached->address_source, "Hetzner Robot's address of server 321");

  // A failure comes back as the machine's reason (PowerFailureReason applied).
  RobotFixtureOptions busy;
  busy.manual_reset_active = true;
  busy.rescue_host_keys = {rescue.HostPublicKey()};
  std::filesystem::create_directory(dir_ + "/busy");
  RobotFixture busy_robot(busy, dir_ + "/busy");
  DriverPowerControl busy_power(io, Context(busy_robot, rescue), MakePowerDriver,
                                [&](const ProfileConfig&) -> Result<DiskImageInstall> {
                                  return DiskImageInstall{image_file, Sha256Of(image_file), "zstd", ""};
                                });
  done.reset();
  busy_power.Reinstall(m, plan, [&](Result<ReinstallReached> r) { done = r.ok() ? Status::Ok() : r.status(); });
  while (!done && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->message().rfind("busy: Hetzner Robot reset sw of server 321: HTTP 409 RESET_MANUAL_ACTIVE", 0), 0u)
      << done->message();
}

}  // namespace
}  // namespace metalpxe
