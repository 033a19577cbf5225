// Issue 16's "done": `metalpxectl reinstall hz-1` on the example inventory
// (deploy/examples/hetzner-dedicated/, copied with only what must point at
// the test's peers changed) takes the simulated AX41 from "rescue requested"
// to running, through the real metalpxed and metalpxectl binaries, without a
// VM, in the lab's network namespace (tests/talos/talos_lab.h):
//   - the server is tests/support/hetzner_server.h: the strict Robot fixture
//     over HTTPS, a real sshd as the rescue system on port 22 at the
//     server's address (Robot's server_ip), a loop device as its disk;
//   - an Image Factory stand-in serves the profile's metal image, which
//     metalpxed downloads into its cache, pins and streams into rescue;
//   - metalpxed is stopped and started again after the image is written and
//     before Talos answers (the apply target comes back from the store);
//   - Talos boots from the disk into maintenance mode: the stand-in apid at
//     the server's address; metalpxed applies the config there and sees the
//     installed system answer over mutual TLS: installed, running.
// The story is checked in `metalpxectl get`, `events` and `timeline`, and no
// secret (Robot password, the rescue root password Robot answers with, SSH
// private key, the machine config's keys) is in metalpxed's log or the events.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <regex>
#include <sstream>

#include "ipmi/robot_codec.h"
#include "tests/ipmi/http_fixture.h"
#include "tests/support/hetzner_server.h"
#include "tests/support/paths.h"
#include "tests/support/subprocess.h"
#include "tests/talos/talos_lab.h"

namespace metalpxe {
namespace {

namespace fs = std::filesystem;
using testing::FixtureRequest;
using testing::FixtureResponse;
using testing::HetznerServer;
using testing::HetznerServerOptions;
using testing::HttpFixture;
using testing::RunCommand;
using testing::Subprocess;
using testing::TalosLab;
using testing::WaitFor;

const std::string kRobotPassword = "robot-ws-Secr3t-16";

std::string HzBinPath(const std::string& rel) { return testing::BinaryDir() + "/" + rel; }

std::string HzReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Milliseconds since midnight of a metalpxed log line's timestamp
// ("2026-12-03T14:09:45.523+00:00 info  ..."); -1 when the line is not there.
long HzLogMillis(const std::string& log, const std::string& what) {
  const auto at = log.find(what);
  if (at == std::string::npos) return -1;
  const auto line = log.rfind('\n', at);
  const std::string stamp = log.substr(line == std::string::npos ? 0 : line + 1, 23);
  std::smatch m;
  if (!std::regex_match(stamp, m, std::regex(R"(\d{4}-\d\d-\d\dT(\d\d):(\d\d):(\d\d)\.(\d{3}))"))) return -1;
  return ((std::stol(m[1]) * 60 + std::stol(m[2])) * 60 + std::stol(m[3])) * 1000 + std::stol(m[4]);
}

// Replaces `from` (which must be there: the example changed otherwise) in `text`.
void HzReplace(std::string& text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << "the example no longer has: " << from;
  text.replace(at, from.size(), to);
}

class HetznerApplianceIt : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(TalosLab::Get().tmp()) / "hetzner-appliance";
    fs::remove_all(dir_);
    HetznerServerOptions so;
    so.netns = TalosLab::Get().netns();
    so.dir = (dir_ / "server").string();
    so.ssh_port = 22;  // metalpxed's rescue SSH port: the namespace is the test's own
    so.server_number = "1234567";  // hz-1's in the example
    so.robot_user = "#ws+AbCdEfGh";  // the example's web-service user
    so.robot_password = kRobotPassword;
    server_ = std::make_unique<HetznerServer>(so);
    // Image Factory: /image/<schematic>/<version>/<file>, the metal image
    // for any schematic (metalpxed computes the ID from talos-image.yaml).
    const std::string metal = server_->MetalImageZstBytes();
    factory_ = std::make_unique<HttpFixture>([this, metal](const FixtureRequest& r) -> FixtureResponse {
      std::lock_guard lock(factory_mu_);
      factory_paths_.push_back(r.method + " " + r.path);
      static const std::regex kPath(R"(/image/([0-9a-f]{64})/(v[0-9.]+)/([a-z0-9.-]+))");
      std::smatch m;
      if (r.method != "GET" || !std::regex_match(r.path, m, kPath)) return {404, "not found", {}};
      if (m[3] == "metal-amd64.raw.zst") return {200, metal, {}};
      if (m[3] == "kernel-amd64") return {200, std::string(200000, 'k'), {}};
      if (m[3] == "initramfs-amd64.xz") return {200, std::string(300000, 'i'), {}};
      return {404, "not found", {}};
    });
    WriteInventory();
  }

  void TearDown() override {
    StopDaemon();
    apid_.reset();
    factory_.reset();
    server_.reset();
  }

  // The example folder, with the test's peers: the Robot fixture and its CA,
  // the Image Factory stand-in, the rescue key (whose public half the
  // "rescue system" authorizes), the password, cluster-a's Talos configs,
  // the loop device as hz-1's disk, and the test's state directory.
  void WriteInventory() {
    const fs::path example = fs::path(testing::SourceDir()) / "deploy/examples/hetzner-dedicated";
    fs::create_directories(dir_);
    fs::copy(example, dir_ / "config", fs::copy_options::recursive);
    const fs::path cfg = dir_ / "config";
    std::string main = HzReadFile(cfg / "metalpxe.yaml");
    HzReplace(main, "address: 203.0.113.10", "address: 127.0.0.1");
    HzReplace(main, "stateDir: /var/lib/metalpxe", "stateDir: " + (dir_ / "state").string());
    HzReplace(main, "apiListen: 0.0.0.0:50100", "apiListen: 127.0.0.1:50100");
    HzReplace(main, "url: https://robot-ws.your-server.de", "url: " + server_->robot().url());
    HzReplace(main, "# caFile: /etc/metalpxe/robot-ca.pem", "caFile: " + server_->robot().ca_file() + " #");
    HzReplace(main, "    arch: amd64\n", "    arch: amd64\n    imageFactory: " + factory_->url() + "\n");
    HzReplace(main, "endpoint: https://203.0.113.21:6443", "endpoint: https://127.0.0.2:6443");
    std::ofstream(cfg / "metalpxe.yaml", std::ios::trunc) << main;
    std::string machines = HzReadFile(cfg / "machines.yaml");
    HzReplace(machines, "installDisk: /dev/disk/by-id/nvme-SAMSUNG_MZVL2512HCJQ-00B00_S000000",
              "installDisk: " + server_->disk());
    std::ofstream(cfg / "machines.yaml", std::ios::trunc) << machines;
    std::ofstream(cfg / "robot.password", std::ios::trunc) << kRobotPassword << "\n";
    for (const char* ext : {"", ".pub"})
      fs::copy_file(server_->rescue().client_key() + ext, cfg / (std::string("robot-rescue.key") + ext),
                    fs::copy_options::overwrite_existing);
    fs::permissions(cfg / "robot-rescue.key", fs::perms::owner_read | fs::perms::owner_write);
    for (const char* f : {"talosconfig", "controlplane.yaml", "worker.yaml"})
      fs::copy_file(TalosLab::Get().dir() + "/cluster-a/" + f, cfg / "talos" / f, fs::copy_options::overwrite_existing);
    client_key_ = HzReadFile(cfg / "robot-rescue.key");
  }

  void StartDaemon() {
    daemon_ = std::make_unique<Subprocess>(Subprocess::Start(
        {HzBinPath("daemon/metalpxed"), "--config", (dir_ / "config" / "metalpxe.yaml").string()},
        TalosLab::Get().netns()));
    ASSERT_TRUE(WaitFor([&] { return daemon_->Stderr().find("metalpxed 0.1.0 running") != std::string::npos ||
                                     !daemon_->Running(); },
                        std::chrono::seconds(30)))
        << daemon_->Describe();
    ASSERT_TRUE(daemon_->Running()) << daemon_->Describe();
  }
  void StopDaemon() {
    if (!daemon_) return;
    daemon_->Kill(SIGTERM);
    EXPECT_EQ(daemon_->Wait(std::chrono::seconds(60)), 0) << daemon_->Describe();
    log_ += daemon_->Stderr() + daemon_->Stdout();
    daemon_.reset();
  }

  testing::CommandResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {HzBinPath("cli/metalpxectl"), "--config",
                               (dir_ / "state" / "pki" / "admin.metalpxeconfig").string()});
    return RunCommand(args, std::chrono::seconds(60), TalosLab::Get().netns());
  }
  std::string State() {
    auto r = Ctl({"get", "hz-1", "-o", "json"});
    std::smatch m;
    return std::regex_search(r.output, m, std::regex(R"re("state": "([a-z-]+)")re")) ? m[1].str() : r.output;
  }
  std::string Describe() {
    return "state " + State() + "\nevents:\n" + Ctl({"events", "--machine", "hz-1"}).output +
           (daemon_ ? daemon_->Describe() : std::string()) + "\nsshd:\n" + server_->rescue().SshdLog() +
           (apid_ ? apid_->Describe() : std::string());
  }

  fs::path dir_;
  std::unique_ptr<HetznerServer> server_;
  std::mutex factory_mu_;
  std::vector<std::string> factory_paths_;
  std::unique_ptr<HttpFixture> factory_;
  std::unique_ptr<Subprocess> daemon_;
  std::unique_ptr<Subprocess> apid_;
  std::string log_;  // metalpxed's output of every run so far
  std::string client_key_;
};

TEST_F(HetznerApplianceIt, ReinstallHz1FromRescueRequestedToRunningAcrossARestart) {
  StartDaemon();
  auto reinstall = Ctl({"reinstall", "hz-1"});
  ASSERT_EQ(reinstall.exit_code, 0) << reinstall.output << Describe();
  EXPECT_NE(reinstall.output.find("reinstall-requested"), std::string::npos) << reinstall.output;

  // Robot: rescue with metalpxe's key, reset; the image streamed and
  // written; a reset into Talos on the disk: pending-install at the address
  // Robot lists for the server.
  std::string state;
  ASSERT_TRUE(WaitFor(
      [&] {
        state = State();
        return state == "failed" || (server_->disk_booted() && state == "pending-install");
      },
      std::chrono::seconds(120)));
  ASSERT_EQ(state, "pending-install") << Describe();
  EXPECT_TRUE(server_->DiskHoldsImage()) << "the image, byte for byte";
  const auto actions = server_->robot().Actions();
  ASSERT_GE(actions.size(), 2u);
  EXPECT_EQ(actions[0], "rescue linux " + server_->rescue().ClientKeyMd5());
  EXPECT_EQ(actions[1], "reset sw");
  {
    std::lock_guard lock(factory_mu_);
    bool metal = false;
    for (const auto& p : factory_paths_) metal |= p.find("/v1.9.5/metal-amd64.raw.zst") != std::string::npos;
    EXPECT_TRUE(metal) << "the metal image came from Image Factory (the stand-in)";
  }

  // metalpxed restarts before Talos answers: the apply target is in the store.
  StopDaemon();
  apid_ = std::make_unique<Subprocess>(TalosLab::Get().StartApid(
      {"--listen", std::string(HetznerServer::kAddress) + ":50000", "--address", HetznerServer::kAddress,
       "--maintenance", "--then-run", "--not-ready-bootstraps", "0", "--version", "v1.9.5"}));
  StartDaemon();
  // The cluster driver looks every 10 s: apply, then the installed system answers.
  ASSERT_TRUE(WaitFor(
      [&] {
        state = State();
        return state == "failed" || state == "running";
      },
      std::chrono::seconds(90)));
  ASSERT_EQ(state, "running") << Describe();
  EXPECT_NE(apid_->Stdout().find("config applied"), std::string::npos) << apid_->Describe();

  auto get = Ctl({"get", "hz-1"});
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_NE(get.output.find("running"), std::string::npos) << get.output;
  EXPECT_NE(get.output.find(HetznerServer::kAddress), std::string::npos) << get.output;

  // The story in the events, in order.
  auto events = Ctl({"events", "--machine", "hz-1"});
  ASSERT_EQ(events.exit_code, 0) << events.output;
  const std::string& ev = events.output;
  const auto requested = ev.find("reinstall-requested");
  const auto written = ev.find("Talos image written to " + server_->disk());
  const auto by_apply = ev.find("config by apply to 127.0.0.1 (Hetzner Robot's address of server 1234567)");
  const auto applied = ev.find("config applied over TLS to 127.0.0.1");
  const auto installed = ev.find("-> installed");
  const auto running = ev.find("-> running");
  for (auto at : {requested, written, by_apply, applied, installed, running}) ASSERT_NE(at, std::string::npos) << ev;
  EXPECT_LT(requested, written);
  EXPECT_LT(written, applied);
  EXPECT_LT(applied, installed);
  EXPECT_LT(installed, running);

  auto timeline = Ctl({"timeline", "hz-1"});
  ASSERT_EQ(timeline.exit_code, 0) << timeline.output;
  const std::string& tl = timeline.output;
  const auto tl_pending = tl.find("pending-install");
  const auto tl_running = tl.find("running");
  ASSERT_NE(tl_pending, std::string::npos) << tl;
  ASSERT_NE(tl_running, std::string::npos) << tl;
  EXPECT_LT(tl_pending, tl_running) << tl;

  // A figure, ours vs the peer's in the same run: metalpxed (libssh, the
  // host key pinned from Robot) from "waiting for the rescue system" to the
  // image written and read back, against OpenSSH's ssh running the same
  // install script with the same image into the same rescue system.
  StopDaemon();
  const long ours_from = HzLogMillis(log_, "waiting for the rescue system");
  const long ours_to = HzLogMillis(log_, std::string(kImageWrittenMarker));
  {
    const fs::path known = dir_ / "known_hosts";
    std::ofstream(known) << "127.0.0.1 " << server_->rescue().HostPublicKey() << "\n";
    const std::string image = server_->metal_image_zst();
    const std::string sha = RunCommand({"sha256sum", image}).output.substr(0, 64);
    const std::string script = BuildImageInstallScript(server_->disk(), sha, "zstd");
    const auto start = std::chrono::steady_clock::now();
    auto peer = RunCommand({"sh", "-c",
                            "exec ssh -q -p 22 -i " + (dir_ / "config" / "robot-rescue.key").string() +
                                " -o BatchMode=yes -o UserKnownHostsFile=" + known.string() +
                                " root@127.0.0.1 " + ShellQuote("sh -c " + ShellQuote(script)) + " < " + image},
                           std::chrono::seconds(60), TalosLab::Get().netns());
    const auto peer_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(peer.exit_code, 0) << peer.output;
    EXPECT_NE(peer.output.find(std::string(kImageWrittenMarker)), std::string::npos) << peer.output;
    EXPECT_TRUE(server_->DiskHoldsImage());
    ASSERT_GE(ours_from, 0) << log_;
    ASSERT_GE(ours_to, ours_from) << log_;
    std::cout << "figure: rescue install of a " << server_->raw_image().size() << "-byte image: metalpxed "
              << (ours_to - ours_from) << " ms (rescue wait + SSH + stream + dd + read-back), OpenSSH ssh "
              << peer_ms << " ms (connect + the same script)\n";
  }

  // No secret in metalpxed's log (both runs) or the events.
  const std::string config_key = TalosLab::Get().Credentials("cluster-a").key_pem.Reveal();
  const std::string machine_config = HzReadFile(dir_ / "config" / "talos" / "controlplane.yaml");
  std::smatch ca_key;
  // (Past the base64 of "-----BEGIN ...", which every PEM shares.)
  ASSERT_TRUE(std::regex_search(machine_config, ca_key, std::regex(R"(key: ([A-Za-z0-9+/=]{100,}))")))
      << "a key in the config";
  const std::string config_secret = ca_key[1].str().substr(60, 30);
  const std::string key_body = client_key_.substr(client_key_.find('\n') + 1, 40);
  for (const std::string* text : {static_cast<const std::string*>(&log_), &ev, &tl}) {
    EXPECT_EQ(text->find(kRobotPassword), std::string::npos);
    EXPECT_EQ(text->find(testing::RobotFixture::kRescueRootPassword), std::string::npos) << "rescue's root password";
    EXPECT_EQ(text->find("PRIVATE KEY"), std::string::npos);
    EXPECT_EQ(text->find(key_body), std::string::npos) << "the rescue SSH key";
    EXPECT_EQ(text->find(config_key.substr(40, 20)), std::string::npos) << "the talosconfig's key";
    EXPECT_EQ(text->find(config_secret), std::string::npos) << "a key of the machine config";
  }
  EXPECT_NE(log_.find("machines still wait for their config by apply"), std::string::npos) << log_;
}

}  // namespace
}  // namespace metalpxe
