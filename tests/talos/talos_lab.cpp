#include "tests/talos/talos_lab.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/paths.h"

namespace metalpxe::testing {
namespace {

class Environment final : public ::testing::Environment {
 public:
  void SetUp() override { TalosLab::Get().SetUp(); }
  void TearDown() override { TalosLab::Get().TearDown(); }
};

[[maybe_unused]] ::testing::Environment* const g_env = ::testing::AddGlobalTestEnvironment(new Environment);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TalosLab& TalosLab::Get() {
  static TalosLab lab;
  return lab;
}

void TalosLab::SetUp() {
  ns_ = std::make_unique<NetNs>("talos");
  enter_ = std::make_unique<ScopedNetNsEnter>(ns_->name());
  char tmpl[] = "/tmp/mpx-talos-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  tmp_ = tmpl;
  // Key generation is the slow part and ctest runs each test in its own
  // process: the fixtures are made once per build tree (under a lock).
  dir_ = BinaryDir() + "/tests/talos/fixtures";
  const std::string gen = SourceDir() + "/tests/support/talos-gen-config.sh";
  const std::string script = "mkdir -p '" + dir_ + "' && exec 9>'" + dir_ + ".lock' && flock 9 && "
                             "if [ ! -e '" + dir_ + "/done' ]; then "
                             "'" + gen + "' '" + dir_ + "/cluster-a' cluster-a https://127.0.0.2:6443 && "
                             "'" + gen + "' '" + dir_ + "/cluster-b' cluster-b https://127.0.0.2:6443 && "
                             "touch '" + dir_ + "/done'; fi";
  auto r = RunCommand({"sh", "-c", script}, std::chrono::seconds(120));
  if (r.exit_code != 0) throw std::runtime_error("talos-gen-config.sh failed:\n" + r.output);
}

void TalosLab::TearDown() {
  enter_.reset();  // back to the host namespace before the lab's is deleted
  ns_.reset();
  if (!tmp_.empty()) RunCommand({"rm", "-rf", tmp_});
}

TalosCredentials TalosLab::Credentials(const std::string& cluster, const std::string& file) const {
  const std::string path = dir_ + "/" + cluster + "/" + file;
  TalosconfigParse parsed = ParseTalosconfig(ReadFile(path), path);
  if (!parsed.credentials)
    throw std::runtime_error(path + ": " + (parsed.problems.empty() ? "?" : parsed.problems[0].ToString()));
  return *parsed.credentials;
}

Subprocess TalosLab::StartApid(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{BinaryDir() + "/tests/e2e/installer/metalpxe_standin_apid"};
  argv.insert(argv.end(), args.begin(), args.end());
  Subprocess p = Subprocess::Start(argv, netns());
  const bool up = WaitFor([&] { return p.Stdout().find("listening on") != std::string::npos || !p.Running(); },
                          std::chrono::seconds(20));
  if (!up || !p.Running()) throw std::runtime_error("stand-in apid did not start: " + p.Describe());
  return p;
}

}  // namespace metalpxe::testing
