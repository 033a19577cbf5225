// Patches that cannot apply are config problems at load time
// (`metalpxed --check-config`), pointing at the patch, the JSON6902
// operation, the configs entry or the machine key with FILE:LINE:COLUMN.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "core/config_loader.h"

namespace metalpxe {
namespace {

namespace fs = std::filesystem;

constexpr const char* kLegacyBase = R"(version: v1alpha1
machine:
  type: worker
  token: abc.def
  network: {}
  install: {disk: /dev/sda}
  nodeLabels: {zone: a}
cluster:
  clusterName: lab
)";

constexpr const char* kCurrentBase = R"(version: v1alpha1
machine: {type: worker, token: abc.def}
---
apiVersion: v1alpha1
kind: HostnameConfig
auto: stable
---
apiVersion: v1alpha1
kind: KubeletConfig
image: ghcr.io/siderolabs/kubelet:v1.37.0
)";

class PatchCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("mpx-patch-check-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "vmlinuz") << "k";
    std::ofstream(dir_ / "initramfs") << "i";
    std::ofstream(dir_ / "legacy.yaml") << kLegacyBase;
    std::ofstream(dir_ / "current.yaml") << kCurrentBase;
    std::ofstream(dir_ / "not-talos.yaml") << "token: abc\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes the appliance config (profiles section given) and inventory; returns the problems.
  std::vector<std::string> Problems(const std::string& profiles, const std::string& machines) {
    std::ofstream(dir_ / "metalpxe.yaml") << "server:\n  address: 10.66.0.1\n  stateDir: " << (dir_ / "state").string()
                                          << "\n  tftpRoot: " << dir_.string()
                                          << "\ndhcp:\n  mode: full\n  subnets:\n    - subnet: 10.66.0.0/24\n"
                                             "      pool: 10.66.0.100-10.66.0.200\n      router: 10.66.0.1\n"
                                             "      dns: [10.66.0.1]\nprofiles:\n"
                                          << profiles << "inventory: machines.yaml\n";
    std::ofstream(dir_ / "machines.yaml") << "machines:\n" << machines;
    LoadedConfig loaded = LoadAppConfig((dir_ / "metalpxe.yaml").string());
    std::vector<std::string> out;
    for (const auto& p : loaded.problems) {
      ConfigProblem q = p;
      q.file = fs::path(q.file).filename().string();
      out.push_back(q.ToString());
    }
    return out;
  }

  static std::string Profile(const std::string& name, const std::string& worker, const std::string& patches) {
    return "  " + name + ":\n    kernel: vmlinuz\n    initramfs: initramfs\n    configs:\n      worker: " + worker +
           "\n      controlplane: legacy.yaml\n" + patches;
  }

  fs::path dir_;
};

TEST_F(PatchCheck, ValidPatchesOfBothKindsLoad) {
  const auto problems = Problems(Profile("default", "legacy.yaml",
                                         "    patches:\n"
                                         "      - machine: {nodeLabels: {zone: {$patch: delete}}}\n"
                                         "      - [{op: add, path: /machine/certSANs, value: [a]}]\n"),
                                 "  - {name: w-1, macs: ['52:54:00:00:00:01'], role: worker, ip: 10.66.0.21,\n"
                                 "     patches: [[{op: test, path: /machine/type, value: worker}]]}\n");
  EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);
}

TEST_F(PatchCheck, ProfilePatchThatFitsOneRoleOnlyPointsAtThePatch) {
  const auto problems =
      Problems(Profile("default", "current.yaml",
                       "    patches:\n      - machine: {nodeLabels: {zone: {$patch: delete}}}\n"),
               "");
  ASSERT_EQ(problems.size(), 1u) << ::testing::PrintToString(problems);
  EXPECT_EQ(problems[0],
            "metalpxe.yaml:20:9: profile 'default' patch 1 (on the worker config): patch delete: path "
            "'machine.nodeLabels.zone' in document '/v1alpha1': failed to delete path 'machine.nodeLabels.zone': "
            "lookup failed");
}

TEST_F(PatchCheck, FailingJsonPatchOperationIsPointedAt) {
  const auto problems = Problems(Profile("default", "legacy.yaml", ""),
                                 "  - name: w-1\n"
                                 "    macs: ['52:54:00:00:00:01']\n"
                                 "    role: worker\n"
                                 "    patches:\n"
                                 "      - - op: add\n"
                                 "          path: /machine/certSANs\n"
                                 "          value: [a]\n"
                                 "        - op: replace\n"
                                 "          path: /machine/kubelet/image\n"
                                 "          value: x\n");
  ASSERT_EQ(problems.size(), 1u) << ::testing::PrintToString(problems);
  EXPECT_EQ(problems[0],
            "machines.yaml:9:11: machine 'w-1' patch 1: operation 2 (replace '/machine/kubelet/image'): nothing at "
            "'/machine/kubelet/image' to replace");
}

TEST_F(PatchCheck, JsonPatchOnAMultiDocumentConfigIsRefusedAsTalosctlDoes) {
  const auto problems = Problems(Profile("default", "current.yaml", ""),
                                 "  - name: w-1\n"
                                 "    macs: ['52:54:00:00:00:01']\n"
                                 "    role: worker\n"
                                 "    patches:\n"
                                 "      - [{op: add, path: /machine/certSANs, value: [a]}]\n");
  ASSERT_EQ(problems.size(), 1u) << ::testing::PrintToString(problems);
  EXPECT_EQ(problems[0],
            "machines.yaml:6:9: machine 'w-1' patch 1: JSON6902 patches are not supported for multi-document "
            "machine configuration");
}

TEST_F(PatchCheck, BaseThatIsNotATalosConfigPointsAtTheConfigsEntry) {
  const auto problems = Problems(Profile("default", "not-talos.yaml", ""), "");
  ASSERT_EQ(problems.size(), 1u) << ::testing::PrintToString(problems);
  EXPECT_NE(problems[0].find("metalpxe.yaml:17:15: base config "), std::string::npos) << problems[0];
  EXPECT_NE(problems[0].find("missing kind"), std::string::npos) << problems[0];
}

TEST_F(PatchCheck, ShorthandThatCannotApplyPointsAtTheMachineKey) {
  std::ofstream(dir_ / "odd.yaml") << "version: v1alpha1\nmachine:\n  network: {interfaces: not-a-list}\n";
  const auto problems = Problems(Profile("default", "odd.yaml", ""),
                                 "  - name: w-1\n"
                                 "    macs: ['52:54:00:00:00:01']\n"
                                 "    role: worker\n"
                                 "    ip: 10.66.0.21\n");
  ASSERT_EQ(problems.size(), 1u) << ::testing::PrintToString(problems);
  EXPECT_EQ(problems[0], "machines.yaml:5:9: machine 'w-1' ip: machine.network.interfaces is not a list");
}

TEST_F(PatchCheck, APatchWrittenAsAnOperationMapIsRefused) {
  const auto problems = Problems(Profile("default", "legacy.yaml", ""),
                                 "  - name: w-1\n"
                                 "    macs: ['52:54:00:00:00:01']\n"
                                 "    role: worker\n"
                                 "    patches:\n"
                                 "      - {op: add, path: /machine/certSANs, value: [a]}\n");
  ASSERT_EQ(problems.size(), 1u) << ::testing::PrintToString(problems);
  EXPECT_NE(problems[0].find("machines.yaml:6:9: machine 'w-1' patch 1: this looks like a JSON6902 operation"),
            std::string::npos)
      << problems[0];
}

}  // namespace
}  // namespace metalpxe
