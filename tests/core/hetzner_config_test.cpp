// power.hetznerRobot and the hetzner-robot bmc keys: each problem at its
// FILE:LINE:COLUMN, and the Robot authorized_key fingerprint derived from the
// private key file exactly as ssh-keygen prints it (keys made by ssh-keygen
// in a temporary directory for each test).
#include <gtest/gtest.h>

#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/config_loader.h"
#include "core/ssh_key_file.h"
#include "tests/support/paths.h"

namespace metalpxe {
namespace {

std::string RunShell(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return out;
  std::array<char, 512> buf{};
  while (std::fgets(buf.data(), int(buf.size()), p)) out += buf.data();
  ::pclose(p);
  return out;
}

class HetznerConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mpx-hzcfg-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    Keygen("rescue.key", "-t ed25519 -N ''");
    Keygen("encrypted.key", "-t ed25519 -N 'not-empty'");
    Keygen("pem.key", "-t ecdsa -m PEM -N ''");
    Write("robot.password", "robot-secret\n");
    Write("ca.pem", "not checked at load beyond being readable\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Keygen(const std::string& name, const std::string& args) {
    const std::string cmd = "ssh-keygen -q " + args + " -C metalpxe-test -f " + dir_ + "/" + name + " </dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  void Write(const std::string& name, const std::string& text) { std::ofstream(dir_ + "/" + name) << text; }
  std::string Md5Of(const std::string& pub) {
    // "256 MD5:aa:bb:... comment (ED25519)"
    const std::string out = RunShell("ssh-keygen -l -E md5 -f " + dir_ + "/" + pub);
    const auto at = out.find("MD5:");
    return at == std::string::npos ? "" : out.substr(at + 4, out.find(' ', at) - at - 4);
  }

  // A config with `power` and one machine whose bmc is `bmc` (YAML lines,
  // indented 6), on lines the tests count on: the bmc map starts at line 18.
  LoadedConfig Load(const std::string& power, const std::string& bmc) {
    Write("metalpxe.yaml",
          "server:\n"                                                     // 1
          "  address: 10.66.0.1\n"                                        // 2
          "dhcp:\n"                                                       // 3
          "  mode: off\n"                                                 // 4
          "power:\n"                                                      // 5
          "  hetznerRobot:\n"                                             // 6
          + power +                                                       // 7, 8
          "profiles:\n"                                                   // 9
          "  default:\n"                                                  // 10
          "    talosVersion: v1.9.5\n"                                    // 11
          "    schematic: 376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba\n"  // 12
          "    configs: {worker: " + testing::SourceDir() + "/deploy/examples/talos/worker.yaml}\n"  // 13
          "machines:\n"                                                   // 14
          "  - name: hz-1\n"                                              // 15
          "    macs: [\"a8:a1:59:00:00:01\"]\n"                           // 16
          "    role: controlplane\n"                                      // 17
          "    bmc:\n"                                                    // 18
          + bmc);
    return LoadAppConfig(dir_ + "/metalpxe.yaml");
  }
  std::vector<std::string> Problems(const LoadedConfig& loaded) {
    std::vector<std::string> out;
    for (auto p : loaded.problems) {
      p.file = p.file.substr(p.file.rfind('/') + 1);
      out.push_back(p.ToString());
    }
    return out;
  }

  std::string dir_;
};

const std::string kGoodPower = "    url: https://127.0.0.1:8443/\n    caFile: ca.pem\n";

TEST_F(HetznerConfig, ValidMachineGetsUrlCaKeyAndFingerprint) {
  auto loaded = Load(kGoodPower,
                     "      type: hetzner-robot\n"
                     "      address: \"1234567\"\n"
                     "      username: \"#ws+AbCdEfGh\"\n"
                     "      passwordFile: robot.password\n"
                     "      sshKeyFile: rescue.key\n");
  ASSERT_TRUE(loaded.ok()) << (loaded.problems.empty() ? "" : loaded.problems[0].ToString());
  const AppConfig& c = *loaded.config;
  EXPECT_EQ(c.power.hetzner_robot.url, "https://127.0.0.1:8443");  // trailing '/' dropped
  EXPECT_EQ(c.power.hetzner_robot.ca_file, dir_ + "/ca.pem");
  const BmcConfig& b = *c.inventory->machines.at(0).bmc;
  EXPECT_EQ(b.address, "1234567");
  EXPECT_EQ(b.ssh_key_file, dir_ + "/rescue.key");
  EXPECT_EQ(b.install_method, InstallMethod::kImage);  // the default
  ASSERT_EQ(b.ssh_key_fingerprint.size(), 47u);
  EXPECT_EQ(b.ssh_key_fingerprint, Md5Of("rescue.key.pub"));
}

TEST_F(HetznerConfig, DefaultUrlIsRobotsAndKexecCanBeChosen) {
  auto loaded = Load("    {}\n",
                     "      type: hetzner-robot\n"
                     "      address: \"42\"\n"
                     "      username: \"#ws+x\"\n"
                     "      passwordFile: robot.password\n"
                     "      sshKeyFile: rescue.key\n"
                     "      installMethod: kexec\n");
  ASSERT_TRUE(loaded.ok()) << (loaded.problems.empty() ? "" : loaded.problems[0].ToString());
  EXPECT_EQ(loaded.config->power.hetzner_robot.url, "https://robot-ws.your-server.de");
  EXPECT_EQ(loaded.config->inventory->machines.at(0).bmc->install_method, InstallMethod::kKexec);
}

TEST_F(HetznerConfig, EachProblemAtItsLine) {
  auto loaded = Load("    url: http://robot.example\n    caFile: missing-ca.pem\n",
                     "      type: hetzner-robot\n"                // 19
                     "      address: \"12a4\"\n"                  // 20
                     "      username: \"#ws+x\"\n"                // 21
                     "      passwordFile: robot.password\n"       // 22
                     "      sshKeyFile: nowhere.key\n"            // 23
                     "      installMethod: pxe\n");               // 24
  EXPECT_EQ(Problems(loaded),
            (std::vector<std::string>{
                "metalpxe.yaml:7:10: power.hetznerRobot.url: 'http://robot.example' is not an HTTPS URL; the Robot "
                "password goes with every request, so metalpxe talks to Robot over HTTPS only (a fixture with its "
                "own CA: https:// and caFile)",
                "metalpxe.yaml:8:13: power.hetznerRobot.caFile: " + dir_ + "/missing-ca.pem does not exist",
                "metalpxe.yaml:20:16: machines[0].bmc.address: '12a4' is not a Robot server number (digits only, as "
                "Robot shows it, e.g. \"1234567\")",
                "metalpxe.yaml:23:19: machines[0].bmc.sshKeyFile: " + dir_ + "/nowhere.key does not exist",
                "metalpxe.yaml:24:22: machines[0].bmc.installMethod: 'pxe' is not one of image | kexec",
            }));
}

TEST_F(HetznerConfig, KeyFilesMetalpxeCannotUse) {
  const std::string head =
      "      type: hetzner-robot\n      address: \"1\"\n      username: \"#ws+x\"\n      passwordFile: robot.password\n";
  auto encrypted = Load(kGoodPower, head + "      sshKeyFile: encrypted.key\n");
  ASSERT_EQ(encrypted.problems.size(), 1u);
  EXPECT_NE(encrypted.problems[0].ToString().find(":23:19: machines[0].bmc.sshKeyFile: " + dir_ +
                                                  "/encrypted.key is encrypted with a passphrase"),
            std::string::npos)
      << encrypted.problems[0].ToString();
  auto pem = Load(kGoodPower, head + "      sshKeyFile: pem.key\n");
  ASSERT_EQ(pem.problems.size(), 1u);
  EXPECT_NE(pem.problems[0].message.find("is a PEM private key"), std::string::npos) << pem.problems[0].message;
  auto pub = Load(kGoodPower, head + "      sshKeyFile: rescue.key.pub\n");
  ASSERT_EQ(pub.problems.size(), 1u);
  EXPECT_NE(pub.problems[0].message.find("is a public key"), std::string::npos) << pub.problems[0].message;
  auto none = Load(kGoodPower, head);
  ASSERT_EQ(none.problems.size(), 1u);
  EXPECT_EQ(none.problems[0].line, 19);
  EXPECT_NE(none.problems[0].message.find("needs sshKeyFile for type hetzner-robot"), std::string::npos);
}

TEST_F(HetznerConfig, RobotKeysOnOtherBmcTypesAreRefused) {
  auto loaded = Load(kGoodPower,
                     "      type: ipmi\n"
                     "      address: 10.0.0.5\n"
                     "      username: admin\n"
                     "      passwordFile: robot.password\n"
                     "      sshKeyFile: rescue.key\n");
  ASSERT_EQ(loaded.problems.size(), 1u);
  EXPECT_EQ(Problems(loaded)[0], "metalpxe.yaml:23:7: machines[0].bmc.sshKeyFile: only for type hetzner-robot, not ipmi");
}

TEST(SshKeyFile, MalformedInputIsAnErrorNeverACrash) {
  for (std::string text : {std::string(""), std::string("-----BEGIN OPENSSH PRIVATE KEY-----\n"),
                           std::string("-----BEGIN OPENSSH PRIVATE KEY-----\n!!!!\n-----END OPENSSH PRIVATE KEY-----\n"),
                           std::string("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"),
                           // "openssh-key-v1\0" then a length running past the end
                           std::string("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA/////w==\n"
                                       "-----END OPENSSH PRIVATE KEY-----\n")}) {
    auto r = ParseOpenSshPrivateKey(text);
    EXPECT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  }
  // MD5 of the empty string, in Robot's spelling.
  EXPECT_EQ(SshMd5Fingerprint(""), "d4:1d:8c:d9:8f:00:b2:04:e9:80:09:98:ec:f8:42:7e");
}

}  // namespace
}  // namespace metalpxe
