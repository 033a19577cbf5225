// Talos's own configpatcher cases (../shared/talos-testdata) served by the
// real metalpxed: one profile per case (its base config, its first patch as
// the profile's patch) and one machine per case (the other patches), then,
// as a machine does, GET /ipxe?mac=... for the config token and GET
// /config/<token> over HTTP, compared with Talos's expected output as Talos's
// decoder reads it. The only difference allowed is the one metalpxe documents:
// the machine's name as static hostname when the config sets none. Cases
// Talos expects to fail must fail `metalpxed --check-config` with Talos's
// message at the patch's FILE:LINE:COLUMN.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "core/install/yaml_writer.h"
#include "tests/install/talos_testdata.h"
#include "tests/support/netns.h"
#include "tests/support/paths.h"
#include "tests/support/subprocess.h"

namespace metalpxe {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;
using testing::Subprocess;
using testing::TalosCase;
using testing::VethPair;
using testing::WaitFor;

std::string Bin(const std::string& rel) { return testing::BinaryDir() + "/" + rel; }
std::string Data(const std::string& rel) { return testing::TalosTestdataDir() + "/" + rel; }

// Cases whose hostname default lands in a HostnameConfig document (their
// configs have no v1alpha1 document, so they are current Talos configs);
// the others are v1alpha1-only (or only pre-1.12 kinds): machine.network.hostname.
const std::set<std::string> kHostnameAsDocument = {"patchlink", "patchmixed", "apply-to-empty"};

std::string MacFor(std::size_t i) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::size_t n = (i + 1) & 0xff;
  return std::string("52:54:00:14:00:") + kHex[n >> 4] + kHex[n & 0xf];
}

// A YAML value as a list item at `indent` spaces ("- " then the value).
std::string ListItem(const YamlValue& value, int indent) {
  const std::string text = WriteYaml(value);
  std::string out;
  std::size_t start = 0;
  bool first = true;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    if (first) {
      out += std::string(static_cast<std::size_t>(indent), ' ') + "- " + line + "\n";
    } else if (line.empty()) {
      out += "\n";  // blank lines of literal blocks stay blank
    } else {
      out += std::string(static_cast<std::size_t>(indent) + 2, ' ') + line + "\n";
    }
    first = false;
    start = end + 1;
  }
  return out;
}

std::string PatchList(const std::vector<YamlValue>& patches, int indent) {
  std::string out = std::string(static_cast<std::size_t>(indent), ' ') + "patches:\n";
  for (const auto& p : patches) out += ListItem(p, indent + 2);
  return out;
}

// Talos's expected output plus the hostname default metalpxe documents.
std::vector<YamlValue> ExpectedServed(const TalosCase& c, const std::string& machine) {
  std::vector<YamlValue> docs = testing::ReadYamlFile(Data(c.expected));
  if (testing::StaticHostname(docs)) return docs;
  if (kHostnameAsDocument.count(c.name)) {
    YamlValue hostname = YamlValue::Map();
    hostname.Set("apiVersion", YamlValue::Plain("v1alpha1"));
    hostname.Set("kind", YamlValue::String("HostnameConfig"));
    hostname.Set("auto", YamlValue::String("off"));
    hostname.Set("hostname", YamlValue::String(machine));
    docs.push_back(std::move(hostname));
    return docs;
  }
  for (auto& doc : docs) {
    if (doc.Find("kind") != nullptr) continue;
    doc.MapAt("machine").MapAt("network").Set("hostname", YamlValue::String(machine));
  }
  return docs;
}

class TalosConfigEndpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testing::TalosTestdataPresent());
    dir_ = fs::temp_directory_path() / ("mpx-talos-cases-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "vmlinuz") << std::string(4096, 'k');
    std::ofstream(dir_ / "initramfs.xz") << std::string(4096, 'i');
  }
  void TearDown() override {
    if (daemon_) {
      daemon_->Kill(SIGTERM);
      EXPECT_EQ(daemon_->Wait(std::chrono::seconds(10)), 0) << daemon_->Describe();
    }
    daemon_.reset();
    net_.reset();
    fs::remove_all(dir_);
  }

  // Profiles and machines for `cases`: the base config from the shared
  // folder, the first patch on the profile, the rest on the machine.
  void WriteConfig(const std::vector<TalosCase>& cases) {
    std::ofstream cfg(dir_ / "metalpxe.yaml");
    cfg << "server:\n  interface: veth-s\n  address: 10.66.0.1\n  stateDir: " << (dir_ / "state").string()
        << "\n  tftpRoot: /usr/lib/ipxe\ndhcp:\n  mode: off\nboot:\n  unknownMachines: ignore\n"
        << "  defaultProfile: " << cases.front().name << "\nprofiles:\n";
    std::ofstream inv(dir_ / "machines.yaml");
    inv << "machines:\n";
    for (std::size_t i = 0; i < cases.size(); ++i) {
      const TalosCase& c = cases[i];
      const std::vector<YamlValue> patches = testing::TalosCasePatches(c);
      cfg << "  " << c.name << ":\n    kernel: vmlinuz\n    initramfs: initramfs.xz\n    configs:\n"
          << "      controlplane: " << Data(c.base) << "\n      worker: " << Data(c.base) << "\n";
      if (!patches.empty()) cfg << PatchList({patches.front()}, 4);
      inv << "  - name: " << c.name << "\n    macs: [\"" << MacFor(i) << "\"]\n    role: worker\n"
          << "    profile: " << c.name << "\n";
      if (patches.size() > 1) inv << PatchList({patches.begin() + 1, patches.end()}, 4);
    }
    cfg << "inventory: machines.yaml\n";
  }

  testing::CommandResult Curl(const std::string& url) {
    return RunCommand({"curl", "-sS", "--fail", "--max-time", "10", url}, std::chrono::seconds(15),
                      net_->client.name());
  }

  fs::path dir_;
  std::unique_ptr<VethPair> net_;
  std::unique_ptr<Subprocess> daemon_;
};

TEST_F(TalosConfigEndpoint, EveryTalosCaseIsServedAsTalosWouldMergeIt) {
  std::vector<TalosCase> cases;
  for (const auto& c : testing::TalosCases()) {
    if (c.error.empty()) cases.push_back(c);
  }
  ASSERT_GE(cases.size(), 11u);
  WriteConfig(cases);
  auto check = RunCommand({Bin("daemon/metalpxed"), "--check-config", (dir_ / "metalpxe.yaml").string()});
  ASSERT_EQ(check.exit_code, 0) << check.output;

  net_ = std::make_unique<VethPair>("tcs", "10.66.0.1/24", "10.66.0.2/24");
  daemon_ = std::make_unique<Subprocess>(
      Subprocess::Start({Bin("daemon/metalpxed"), "--config", (dir_ / "metalpxe.yaml").string()}, net_->server.name()));
  ASSERT_TRUE(WaitFor([&] { return Curl("http://10.66.0.1:8080/boot.ipxe").exit_code == 0; }, std::chrono::seconds(20)))
      << daemon_->Describe();

  for (std::size_t i = 0; i < cases.size(); ++i) {
    const TalosCase& c = cases[i];
    SCOPED_TRACE(c.name + " (" + c.talos_test + ")");
    std::string mac = MacFor(i);
    std::replace(mac.begin(), mac.end(), ':', '-');
    const auto script = Curl("http://10.66.0.1:8080/ipxe?mac=" + mac + "&arch=x86_64");
    ASSERT_EQ(script.exit_code, 0) << script.output;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(script.output, m, std::regex(R"(talos\.config=(\S+))"))) << script.output;
    const auto served = Curl(m[1].str());
    ASSERT_EQ(served.exit_code, 0) << served.output << daemon_->Describe();
    auto docs = ParseYamlDocuments(served.output, "served config");
    ASSERT_TRUE(docs.ok()) << docs.status().ToString();
    EXPECT_TRUE(testing::SameForTalos(*docs, ExpectedServed(c, c.name)));
  }
}

TEST_F(TalosConfigEndpoint, CasesTalosRefusesFailTheConfigCheckAtThePatch) {
  for (const auto& c : testing::TalosCases()) {
    if (c.error.empty()) continue;
    SCOPED_TRACE(c.name + " (" + c.talos_test + ")");
    WriteConfig({c});
    auto check = RunCommand({Bin("daemon/metalpxed"), "--check-config", (dir_ / "metalpxe.yaml").string()});
    EXPECT_NE(check.exit_code, 0) << check.output;
    EXPECT_NE(check.output.find(c.error), std::string::npos) << check.output;
    // FILE:LINE:COLUMN of a patch: the profile's (first) or the machine's.
    EXPECT_TRUE(std::regex_search(check.output, std::regex(R"((metalpxe|machines)\.yaml:\d+:\d+: )"))) << check.output;
  }
}

}  // namespace
}  // namespace metalpxe
