// Pure parts of the power drivers: codecs (Redfish, Robot, WoL), reset-type
// choice, retries, error reasons, the manual driver, the factory's checks,
// the reinstall sequence and PowerExecutor's thread hand-off.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>

#include <atomic>
#include <thread>

#include "ipmi/manual_driver.h"
#include "ipmi/power_driver.h"
#include "ipmi/power_executor.h"
#include "ipmi/redfish_codec.h"
#include "ipmi/redfish_driver.h"
#include "ipmi/retry.h"
#include "ipmi/robot_codec.h"
#include "ipmi/wol_packet.h"
#include "tests/support/subprocess.h"

namespace metalpxe {
namespace {

TEST(PowerUnit, MagicPacketRoundTripsAndRejectsOtherBytes) {
  const auto mac = MacAddress::Parse("aa:bb:cc:dd:ee:01").value();
  auto p = BuildMagicPacket(mac);
  EXPECT_EQ(ParseMagicPacket(p), mac);
  p[50] = std::byte{0};
  EXPECT_FALSE(ParseMagicPacket(p));
  EXPECT_FALSE(ParseMagicPacket(std::span<const std::byte>(p.data(), 10)));
  EXPECT_FALSE(ParseMagicPacket({}));
}

constexpr const char* kSystem = R"({
  "@odata.type": "#ComputerSystem.v1_13_0.ComputerSystem",
  "@odata.id": "/redfish/v1/Systems/437XR1138R2",
  "@odata.etag": "W/\"12\"",
  "Id": "437XR1138R2",
  "PowerState": "On",
  "Boot": {
    "BootSourceOverrideEnabled": "Disabled",
    "BootSourceOverrideTarget": "None",
    "BootSourceOverrideTarget@Redfish.AllowableValues": ["None", "Pxe", "Cd", "Hdd"],
    "BootSourceOverrideMode": "UEFI"
  },
  "Actions": {
    "#ComputerSystem.Reset": {
      "target": "/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset",
      "ResetType@Redfish.AllowableValues": ["On", "ForceOff", "GracefulShutdown", "ForceRestart", "Nmi", "PushPowerButton"]
    }
  }
})";

TEST(PowerUnit, RedfishSystemParses) {
  auto s = ParseRedfishSystem(kSystem);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->id, "/redfish/v1/Systems/437XR1138R2");
  EXPECT_EQ(s->power_state, "On");
  EXPECT_EQ(s->etag, "W/\"12\"");
  EXPECT_EQ(s->reset_target, "/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset");
  EXPECT_EQ(s->reset_types.size(), 6u);
  EXPECT_TRUE(s->has_boot);
  EXPECT_EQ(s->boot_mode, "UEFI");
  EXPECT_EQ(s->boot_targets_allowed[1], "Pxe");
  EXPECT_FALSE(ParseRedfishSystem("[1,2]").ok());
  EXPECT_FALSE(ParseRedfishSystem("{\"PowerState\":").ok());
  auto odd = ParseRedfishSystem(R"({"PowerState": 5, "Boot": 3, "Actions": {"#ComputerSystem.Reset": []}})");
  ASSERT_TRUE(odd.ok());  // wrong types are ignored, not trusted
  EXPECT_EQ(odd->power_state, "");
  EXPECT_FALSE(odd->has_boot);
}

TEST(PowerUnit, RedfishRootCollectionActionInfoAndErrors) {
  auto root = ParseRedfishServiceRoot(
      R"({"Systems":{"@odata.id":"/redfish/v1/Systems"},"Links":{"Sessions":{"@odata.id":"/redfish/v1/SessionService/Sessions"}}})");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->sessions_path, "/redfish/v1/SessionService/Sessions");
  EXPECT_EQ(ParseRedfishServiceRoot("{}").status().code(), ErrorCode::kUnsupported);
  auto members = ParseRedfishCollection(R"({"Members":[{"@odata.id":"/redfish/v1/Systems/1"},{"x":1}]})");
  ASSERT_TRUE(members.ok());
  EXPECT_EQ(*members, std::vector<std::string>{"/redfish/v1/Systems/1"});
  auto info = ParseRedfishActionInfo(
      R"({"Parameters":[{"Name":"ResetType","AllowableValues":["On","ForceOff"]}]})", "ResetType");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size(), 2u);
  const char* err =
      R"({"error":{"code":"Base.1.8.GeneralError","message":"A general error has occurred.","@Message.ExtendedInfo":[{"MessageId":"Base.1.8.ActionParameterValueNotInList","Message":"The value 'X' is not allowed."}]}})";
  EXPECT_EQ(ParseRedfishError(err), "A general error has occurred.; The value 'X' is not allowed.");
  EXPECT_TRUE(RedfishErrorIsUnsupportedValue(err));
  EXPECT_EQ(ParseRedfishError("<html>"), "");
}

TEST(PowerUnit, RedfishCycleChoice) {
  EXPECT_EQ(ChooseRedfishCycle({}).reset_type, "ForceRestart");
  EXPECT_EQ(ChooseRedfishCycle({"On", "PowerCycle", "ForceRestart"}).reset_type, "PowerCycle");
  EXPECT_EQ(ChooseRedfishCycle({"On", "ForceRestart"}).reset_type, "ForceRestart");
  auto two = ChooseRedfishCycle({"ForceOn", "GracefulShutdown"});
  EXPECT_EQ(two.off_type, "GracefulShutdown");
  EXPECT_EQ(two.on_type, "ForceOn");
  EXPECT_FALSE(ChooseRedfishCycle({"Nmi"}).possible());
  EXPECT_EQ(RedfishPxeOnceBody(true, true),
            R"({"Boot":{"BootSourceOverrideEnabled":"Once","BootSourceOverrideMode":"UEFI","BootSourceOverrideTarget":"Pxe"}})");
  EXPECT_EQ(RedfishPxeOnceBody(false, false), R"({"Boot":{"BootSourceOverrideEnabled":"Once","BootSourceOverrideTarget":"Pxe"}})");
}

TEST(PowerUnit, RedfishAddressForms) {
  auto a = ParseRedfishAddress("10.0.0.5");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->base_url, "https://10.0.0.5");
  EXPECT_EQ(a->system_path, "");
  auto b = ParseRedfishAddress("http://bmc:8000/redfish/v1/Systems/System.Embedded.1/");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->base_url, "http://bmc:8000");
  EXPECT_EQ(b->system_path, "/redfish/v1/Systems/System.Embedded.1");
  EXPECT_FALSE(ParseRedfishAddress("").ok());
  EXPECT_FALSE(ParseRedfishAddress("https://bmc/other").ok());
}

TEST(PowerUnit, RobotDocuments) {
  auto e = ParseRobotError(
      R"({"error":{"status":403,"code":"RATE_LIMIT_EXCEEDED","max_request":200,"interval":3600,"message":"Rate limit exceeded"}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, "RATE_LIMIT_EXCEEDED");
  EXPECT_EQ(e->max_request, 200);
  EXPECT_EQ(e->interval, 3600);
  EXPECT_FALSE(ParseRobotError(R"({"server":{}})"));
  auto s = ParseRobotServer(R"({"server":{"server_ip":"123.123.123.123","server_number":321,"status":"ready"}})");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->server_ip, "123.123.123.123");
  EXPECT_EQ(s->server_number, 321);
  EXPECT_FALSE(ParseRobotServer(R"({"server":{"server_number":"x"}})").ok());
  // Host keys as authorized_key entries, as a bare fingerprint, or as an
  // OpenSSH public key line (its MD5 computed); anything else is no pin.
  auto r = ParseRobotRescue(
      R"({"rescue":{"active":true,"os":"linux","host_key":[)"
      R"({"key":{"fingerprint":"cb:8b:ef:a7:fe:04:87:3f:e5:55:cd:12:e3:e8:9f:99","type":"ECDSA","size":256}},)"
      R"("11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00",)"
      R"("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHS9hvbLPXVAPcD2VRPOZ3VY2E0/yqRFqOiVdHWEIYoi root@rescue",)"
      R"({"key":{"fingerprint":"aa:bb"}}, 7, "not a key"]}})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->active);
  ASSERT_EQ(r->host_key_fingerprints.size(), 3u);
  EXPECT_EQ(r->host_key_fingerprints[0], "cb:8b:ef:a7:fe:04:87:3f:e5:55:cd:12:e3:e8:9f:99");
  EXPECT_EQ(r->host_key_fingerprints[1], "11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00");
  const std::string line_md5 =
      testing::RunCommand({"sh", "-c",
                           "echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHS9hvbLPXVAPcD2VRPOZ3VY2E0/yqRFqOiVdHWEIYoi x' | "
                           "ssh-keygen -l -E md5 -f - | cut -d' ' -f2"})
          .output;
  EXPECT_EQ("MD5:" + r->host_key_fingerprints[2] + "\n", line_md5);
  auto t = ParseRobotResetTypes(R"({"reset":{"type":["sw","hw","man"]}})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->size(), 3u);
}

TEST(PowerUnit, ImageScriptTreatsTheDiskNameAsDataAndStopsBeforeReadingTheImage) {
  // An inventory's installDisk reaches a root shell in the rescue system: a
  // hostile name must stay a name (exit 3: no such block device), and the
  // script must stop before it reads a byte of the image.
  char tmpl[] = "/tmp/mpx-imgscript-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string disk = "/dev/nonexistent$(touch " + dir + "/pwned)';touch " + dir + "/pwned2;'";
  const std::string script = BuildImageInstallScript(disk, std::string(64, 'a'), "zstd");
  auto r = testing::RunCommand({"sh", "-c", script + "\necho read-nothing-yet"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("is not a block device here"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir + "/pwned"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/pwned2"));
  std::filesystem::remove_all(dir);
}

TEST(PowerUnit, ShellQuotingSurvivesAShell) {
  for (std::string s : {"plain", "it's", "a b  c", "$(reboot) `x` \"q\" \\ ;&|", "", "'''"}) {
    auto r = testing::RunCommand({"sh", "-c", "printf %s " + ShellQuote(s)});
    EXPECT_EQ(r.output, s);
  }
  const std::string script = BuildKexecScript("http://h/k", "http://h/i", "a='b' c");
  EXPECT_NE(script.find("--append='a='\\''b'\\'' c'"), std::string::npos) << script;
  EXPECT_NE(script.find("kexec -e"), std::string::npos);
}

TEST(PowerUnit, RetriesOnlyTransientFailuresAndBacksOff) {
  RetryPolicy p;
  p.max_attempts = 4;
  p.initial_backoff = std::chrono::milliseconds(1);
  p.max_backoff = std::chrono::milliseconds(3);
  EXPECT_EQ(BackoffBefore(p, 1).count(), 1);
  EXPECT_EQ(BackoffBefore(p, 2).count(), 2);
  EXPECT_EQ(BackoffBefore(p, 5).count(), 3);  // capped
  int calls = 0;
  Status s = WithRetries(p, [&] { ++calls; return Status(ErrorCode::kUnavailable, "down"); });
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(s.code(), ErrorCode::kUnavailable);
  calls = 0;
  s = WithRetries(p, [&] { ++calls; return Status(ErrorCode::kPermissionDenied, "bad password"); });
  EXPECT_EQ(calls, 1);  // never hammer a BMC with a wrong password
  calls = 0;
  Result<int> r = WithRetries(p, [&]() -> Result<int> {
    if (++calls < 3) return Status(ErrorCode::kResourceExhausted, "slow down");
    return 7;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 7);
  EXPECT_EQ(calls, 3);
}

TEST(PowerUnit, FailureReasonsAreReadable) {
  EXPECT_EQ(PowerFailureReason({ErrorCode::kUnavailable, "x"}), "unreachable: x");
  EXPECT_EQ(PowerFailureReason({ErrorCode::kPermissionDenied, "x"}), "authentication failed: x");
  EXPECT_EQ(PowerFailureReason({ErrorCode::kUnsupported, "x"}), "unsupported: x");
  EXPECT_EQ(PowerFailureReason({ErrorCode::kInternal, "x"}), "BMC error: x");
  EXPECT_EQ(PowerFailureReason({ErrorCode::kResourceExhausted, "x"}), "rate limited: x");
  EXPECT_EQ(PowerFailureReason({ErrorCode::kFailedPrecondition, "x"}), "busy: x");
  EXPECT_EQ(PowerFailureReason(Status::Ok()), "");
}

TEST(PowerUnit, ManualDriverAsksForHands) {
  BmcConfig bmc;  // type manual by default
  auto d = MakePowerDriver(bmc, MacAddress{}, PowerContext{});
  ASSERT_TRUE(d.ok());
  Status s = StartReinstall(**d, ReinstallPlan{});
  EXPECT_EQ(s.code(), ErrorCode::kUnsupported);
  EXPECT_EQ(PowerFailureReason(s).rfind("unsupported: power-cycle by hand", 0), 0u) << PowerFailureReason(s);
  EXPECT_EQ((*d)->PowerOn().code(), ErrorCode::kUnsupported);
  EXPECT_EQ((*d)->SetNextBootNetwork(true).code(), ErrorCode::kUnsupported);
}

TEST(PowerUnit, FactoryRejectsUnusableConfigs) {
  BmcConfig ipmi;
  ipmi.type = BmcType::kIpmi;
  EXPECT_EQ(MakePowerDriver(ipmi, {}, {}).status().code(), ErrorCode::kInvalidArgument);
  BmcConfig robot;
  robot.type = BmcType::kHetznerRobot;
  robot.address = "not-a-number";
  EXPECT_EQ(MakePowerDriver(robot, {}, {}).status().code(), ErrorCode::kInvalidArgument);
  BmcConfig redfish;
  redfish.type = BmcType::kRedfish;
  EXPECT_EQ(MakePowerDriver(redfish, {}, {}).status().code(), ErrorCode::kInvalidArgument);
}

// A recording driver for the sequence test (test code only).
class RecordingDriver : public PowerDriver {
 public:
  explicit RecordingDriver(PowerCapabilities caps) : caps_(caps) {}
  std::string_view Kind() const override { return "recording"; }
  PowerCapabilities Capabilities() const override { return caps_; }
  Result<PowerState> GetPowerState() override { calls.push_back("state"); return PowerState::kOff; }
  Status PowerOn() override { calls.push_back("on"); return Status::Ok(); }
  Status PowerOff() override { calls.push_back("off"); return Status::Ok(); }
  Status PowerCycle() override { calls.push_back("cycle"); return Status::Ok(); }
  Status SetNextBootNetwork(bool efi) override { calls.push_back(efi ? "pxe-efi" : "pxe-legacy"); return Status::Ok(); }
  Status ReinstallWithKexec(const KexecInstall& k) override { calls.push_back("kexec " + k.kernel_url); return Status::Ok(); }
  Status ReinstallWithImage(const DiskImageInstall& i) override { calls.push_back("image " + i.disk); return Status::Ok(); }
  std::vector<std::string> calls;

 private:
  PowerCapabilities caps_;
};

TEST(PowerUnit, ReinstallSequencePerCapability) {
  RecordingDriver bmc({.power_state = true, .power_on = true, .power_off = true, .power_cycle = true,
                       .network_boot = true, .kexec_reinstall = false});
  ASSERT_TRUE(StartReinstall(bmc, {.efi = false, .kexec = {}, .image = std::nullopt}).ok());
  EXPECT_EQ(bmc.calls, (std::vector<std::string>{"pxe-legacy", "cycle"}));
  RecordingDriver robot({.power_state = false, .power_on = true, .power_off = true, .power_cycle = true,
                         .network_boot = false, .kexec_reinstall = true});
  ASSERT_TRUE(StartReinstall(robot, {.efi = true, .kexec = {"http://k", "http://i", "args"}, .image = std::nullopt}).ok());
  EXPECT_EQ(robot.calls, std::vector<std::string>{"kexec http://k"});
  // With an image in the plan (installMethod image) the rescue path writes it instead.
  ASSERT_TRUE(StartReinstall(robot, {.efi = true, .kexec = {}, .image = DiskImageInstall{"f", "s", "zstd", "/dev/x"}}).ok());
  EXPECT_EQ(robot.calls, (std::vector<std::string>{"kexec http://k", "image /dev/x"}));
  RecordingDriver wol({.power_state = false, .power_on = true});
  ASSERT_TRUE(StartReinstall(wol, {}).ok());
  EXPECT_EQ(wol.calls, std::vector<std::string>{"on"});
}

TEST(PowerUnit, ExecutorRunsOffTheLoopAndCompletesOnIt) {
  boost::asio::io_context io;
  PowerExecutor exec(io, 2);
  const auto loop_thread = std::this_thread::get_id();
  std::thread::id worker_thread, done_thread;
  Status got{ErrorCode::kInternal, "not run"};
  auto driver = std::make_shared<ManualPowerDriver>();
  exec.Run(driver, [&](PowerDriver& d) {
    worker_thread = std::this_thread::get_id();
    return d.PowerCycle();
  }, [&](Status s) {
    done_thread = std::this_thread::get_id();
    got = s;
  });
  int value = 0;
  exec.Submit([] { return 42; }, [&](int v) { value = v; });
  io.run();  // returns once both completions ran: the executor held work until then
  EXPECT_NE(worker_thread, loop_thread);
  EXPECT_EQ(done_thread, loop_thread);
  EXPECT_EQ(got.code(), ErrorCode::kUnsupported);
  EXPECT_EQ(value, 42);
}

}  // namespace
}  // namespace metalpxe
