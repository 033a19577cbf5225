// Every config metalpxe renders for the examples and for the test profiles
// is checked against Talos's own JSON schema for its release (v1.15 for
// Talos 1.12 and later, v1.11 before), with a real validator
// (python3-jsonschema, tests/install/talos_schema_check.py): no key metalpxe
// or a test patch adds may be one the schema does not allow. Findings the
// base config (talosctl's own output) already has are not metalpxe's.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "core/config_clusters.h"
#include "core/config_loader.h"
#include "core/install/machine_config_renderer.h"
#include "core/install/yaml_writer.h"
#include "tests/install/talos_testdata.h"
#include "tests/support/paths.h"

namespace metalpxe {
namespace {

std::string Src(const std::string& rel) { return testing::SourceDir() + "/" + rel; }

// Renders `machine` and queues it for the schema of its release.
void Render(const AppConfig& app, const MachineConfig& machine, std::vector<testing::SchemaCheck>* checks) {
  SCOPED_TRACE("machine " + machine.name);
  const std::string profile_name = machine.profile.empty() ? app.boot.default_profile : machine.profile;
  // A machine of a named cluster renders from its cluster's base config:
  // findings are judged against that base (core/config_clusters.h).
  ProfileConfig profile = app.profiles.at(profile_name);
  if (auto base = BaseConfigPathFor(app, machine)) profile.configs[machine.role] = *base;
  TalosRelease release;
  ASSERT_TRUE(RenderProfileDocuments(profile, machine.role, nullptr, nullptr, &release).ok());
  auto rendered = RenderMachineConfig(app, machine);
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
  checks->push_back({testing::TalosSchemaFor(release.minor), profile.configs.at(machine.role), *rendered});
}

MachineConfig Machine(std::string name, Role role, std::string profile) {
  MachineConfig m;
  m.name = std::move(name);
  m.role = role;
  m.profile = std::move(profile);
  m.macs = {*MacAddress::Parse("52:54:00:12:34:56")};
  return m;
}

TEST(install_talos_schema, EveryExampleMachineValidates) {
  ASSERT_TRUE(testing::TalosTestdataPresent());
  LoadedConfig loaded = LoadAppConfig(Src("deploy/examples/metalpxe.yaml"));
  ASSERT_TRUE(loaded.ok()) << loaded.problems.at(0).ToString();
  const AppConfig& app = *loaded.config;
  ASSERT_GE(app.inventory->machines.size(), 4u);
  std::vector<testing::SchemaCheck> checks;
  for (const auto& m : app.inventory->machines) Render(app, m, &checks);
  // Both roles of both profiles, with every shorthand.
  for (const char* profile : {"default", "legacy"}) {
    for (Role role : {Role::kControlPlane, Role::kWorker}) {
      MachineConfig m = Machine("all-shorthands", role, profile);
      m.install_disk = "/dev/disk/by-id/nvme-EXAMPLE_0001";
      m.ip = Ipv4Address::Parse("10.66.0.40");
      Render(app, m, &checks);
    }
  }
  EXPECT_TRUE(testing::PassTalosSchema(checks));
}

AppConfig GoldenApp() {
  AppConfig app;
  SubnetConfig subnet;
  subnet.subnet = *Ipv4Cidr::Parse("10.66.0.0/24");
  subnet.router = Ipv4Address::Parse("10.66.0.1");
  subnet.dns = {*Ipv4Address::Parse("10.66.0.1")};
  app.dhcp.subnets.push_back(subnet);
  const std::string golden = Src("tests/install/golden");
  auto add = [&](const std::string& name, const std::string& cp, const std::string& worker, std::string version) {
    ProfileConfig p;
    p.name = name;
    p.talos_version = std::move(version);
    p.configs[Role::kControlPlane] = cp;
    p.configs[Role::kWorker] = worker;
    app.profiles[name] = p;
  };
  add("golden", golden + "/controlplane.yaml", golden + "/worker.yaml", "");
  add("golden-multidoc", golden + "/controlplane-multidoc.yaml", golden + "/worker.yaml", "");
  add("golden-1.12", golden + "/controlplane.yaml", golden + "/worker.yaml", "v1.12.4");
  add("e2e", Src("tests/e2e/fixtures/talos/controlplane.yaml"), Src("tests/e2e/fixtures/talos/worker.yaml"), "");
  return app;
}

TEST(install_talos_schema, EveryTestProfileValidates) {
  ASSERT_TRUE(testing::TalosTestdataPresent());
  const AppConfig app = GoldenApp();
  std::vector<testing::SchemaCheck> checks;
  for (const auto& [name, profile] : app.profiles) {
    for (Role role : {Role::kControlPlane, Role::kWorker}) {
      Render(app, Machine("plain", role, name), &checks);
      MachineConfig m = Machine("all-shorthands", role, name);
      m.install_disk = "/dev/vda";
      m.ip = Ipv4Address::Parse("10.66.0.40");
      Render(app, m, &checks);
    }
  }
  EXPECT_TRUE(testing::PassTalosSchema(checks));
}

// Talos's configpatcher cases, rendered as the daemon renders them (the
// integration test serves the same through metalpxed).
TEST(install_talos_schema, EveryTalosCaseRenderedValidates) {
  ASSERT_TRUE(testing::TalosTestdataPresent());
  std::vector<testing::SchemaCheck> checks;
  for (const auto& c : testing::TalosCases()) {
    if (!c.error.empty()) continue;
    SCOPED_TRACE(c.name);
    AppConfig app;
    ProfileConfig profile;
    profile.name = c.name;
    profile.configs[Role::kWorker] = testing::TalosTestdataDir() + "/" + c.base;
    app.profiles[c.name] = profile;
    MachineConfig m = Machine("case-1", Role::kWorker, c.name);
    for (const auto& doc : testing::TalosCasePatches(c)) m.patches.push_back(YAML::Load(WriteYaml(doc)));
    Render(app, m, &checks);
  }
  EXPECT_TRUE(testing::PassTalosSchema(checks));
}

// The check can fail: a key Talos 1.14 no longer documents, added by a patch.
TEST(install_talos_schema, AnAddedKeyOutsideTheSchemaIsFound) {
  ASSERT_TRUE(testing::TalosTestdataPresent());
  const std::string base = Src("deploy/examples/talos/worker.yaml");
  const std::string text = testing::ReadTextFile(base);
  EXPECT_TRUE(testing::PassTalosSchema({{testing::TalosSchemaFor(14), base, text}}));
  const std::string with_legacy_key =
      "version: v1alpha1\nmachine:\n  network:\n    hostname: w-1\n" + text.substr(text.find("---"));
  EXPECT_FALSE(testing::PassTalosSchema({{testing::TalosSchemaFor(14), base, with_legacy_key}}));
}

}  // namespace
}  // namespace metalpxe
