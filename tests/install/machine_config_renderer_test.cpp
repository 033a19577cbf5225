// Golden tests of RenderMachineConfig over realistic `talosctl gen config`
// output (tests/install/golden/*.yaml). Each case checks the facts it is
// about on the parsed output, then compares the whole output with its golden
// file semantically (same data for a YAML reader) and textually (the writer
// is deterministic). METALPXE_UPDATE_GOLDEN=1 rewrites the golden files;
// review the diff before committing them.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "core/install/machine_config_renderer.h"
#include "core/install/yaml_tree.h"

namespace metalpxe {
namespace {

const std::string kGolden = METALPXE_INSTALL_GOLDEN_DIR;
const MacAddress kMac = *MacAddress::Parse("52:54:00:12:34:56");

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

AppConfig MakeApp() {
  AppConfig app;
  SubnetConfig subnet;
  subnet.subnet = *Ipv4Cidr::Parse("10.66.0.0/24");
  subnet.pool = *Ipv4Range::Parse("10.66.0.100-10.66.0.200");
  subnet.router = Ipv4Address::Parse("10.66.0.1");
  subnet.dns = {*Ipv4Address::Parse("10.66.0.1")};
  app.dhcp.subnets.push_back(subnet);
  ProfileConfig profile;
  profile.name = "default";
  profile.configs[Role::kControlPlane] = kGolden + "/controlplane.yaml";
  profile.configs[Role::kWorker] = kGolden + "/worker.yaml";
  app.profiles["default"] = profile;
  ProfileConfig multidoc = profile;
  multidoc.name = "multidoc";
  multidoc.configs[Role::kControlPlane] = kGolden + "/controlplane-multidoc.yaml";
  app.profiles["multidoc"] = multidoc;
  return app;
}

MachineConfig MakeMachine(std::string name, Role role = Role::kControlPlane) {
  MachineConfig m;
  m.name = std::move(name);
  m.macs = {kMac};
  m.role = role;
  m.profile = "default";
  return m;
}

std::string Render(const AppConfig& app, const MachineConfig& machine) {
  auto rendered = RenderMachineConfig(app, machine);
  EXPECT_TRUE(rendered.ok()) << rendered.status().ToString();
  return rendered.ok() ? *rendered : std::string();
}

// The rendered text must be valid YAML; returns its documents.
std::vector<YAML::Node> Parse(const std::string& text) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    ADD_FAILURE() << "rendered config is not valid YAML: " << e.what();
  }
  return docs;
}

void ExpectMatchesGolden(const std::string& actual, const std::string& name) {
  const std::string path = kGolden + "/expected/" + name + ".yaml";
  if (std::getenv("METALPXE_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path, std::ios::binary) << actual;
  }
  const std::string expected = ReadFile(path);
  ASSERT_FALSE(expected.empty()) << "missing golden file " << path;
  auto a = ParseYamlDocuments(actual, "rendered");
  auto e = ParseYamlDocuments(expected, path);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_EQ(a->size(), e->size());
  for (std::size_t i = 0; i < a->size(); ++i) {
    EXPECT_TRUE(SemanticallyEqual((*a)[i], (*e)[i])) << "document " << i << " differs from " << path;
  }
  EXPECT_EQ(actual, expected) << "text differs from " << path;
}

std::string InlineManifest(const YAML::Node& doc, const std::string& name) {
  for (const auto& m : doc["cluster"]["inlineManifests"]) {
    if (m["name"].as<std::string>() == name) return m["contents"].as<std::string>();
  }
  ADD_FAILURE() << "no inline manifest " << name;
  return {};
}

TEST(install_render, ControlPlaneBaseOnly) {
  const AppConfig app = MakeApp();
  const std::string out = Render(app, MakeMachine("cp-1"));
  auto docs = Parse(out);
  ASSERT_EQ(docs.size(), 1u);
  const YAML::Node cfg = docs[0];
  EXPECT_EQ(cfg["machine"]["type"].as<std::string>(), "controlplane");
  EXPECT_EQ(cfg["machine"]["network"]["hostname"].as<std::string>(), "cp-1");
  EXPECT_EQ(cfg["machine"]["install"]["disk"].as<std::string>(), "/dev/sda");
  EXPECT_EQ(cfg["machine"]["install"]["wipe"].as<bool>(), false);
  EXPECT_EQ(cfg["machine"]["token"].as<std::string>(), "8bz3ke.l4qpmxgu0t1v2wyd");
  // An empty string stays a string, not null.
  const YAML::Node label = cfg["machine"]["nodeLabels"]["node.kubernetes.io/exclude-from-external-load-balancers"];
  EXPECT_EQ(label.Tag(), "!");
  EXPECT_EQ(label.as<std::string>(), "");
  // Same data as the base apart from the hostname.
  auto base = ParseYamlDocuments(ReadFile(kGolden + "/controlplane.yaml"), "base");
  auto rendered = ParseYamlDocuments(out, "rendered");
  ASSERT_TRUE(base.ok() && rendered.ok());
  (*base)[0].Find("machine")->MapAt("network").Set("hostname", YamlValue::String("cp-1"));
  EXPECT_TRUE(SemanticallyEqual((*base)[0], (*rendered)[0]));
  ExpectMatchesGolden(out, "base-controlplane");
}

TEST(install_render, WorkerBaseOnly) {
  const AppConfig app = MakeApp();
  const std::string out = Render(app, MakeMachine("worker-1", Role::kWorker));
  auto docs = Parse(out);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["machine"]["type"].as<std::string>(), "worker");
  EXPECT_EQ(docs[0]["machine"]["network"]["hostname"].as<std::string>(), "worker-1");
  EXPECT_FALSE(docs[0]["cluster"]["inlineManifests"]);
  ExpectMatchesGolden(out, "base-worker");
}

const char* kProfilePatch = R"(
machine:
  kubelet:
    extraArgs:
      rotate-server-certificates: "true"
  time:
    servers: [10.66.0.1]
  install:
    image: factory.talos.dev/installer/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba:v1.9.5
cluster:
  network:
    podSubnets: [10.200.0.0/16]
)";

TEST(install_render, ProfilePatch) {
  AppConfig app = MakeApp();
  app.profiles["default"].patches = {YAML::Load(kProfilePatch)};
  const std::string out = Render(app, MakeMachine("cp-1"));
  auto docs = Parse(out);
  ASSERT_EQ(docs.size(), 1u);
  const YAML::Node cfg = docs[0];
  // Quoted "true" stays a string (kubelet flags are strings).
  const YAML::Node flag = cfg["machine"]["kubelet"]["extraArgs"]["rotate-server-certificates"];
  EXPECT_EQ(flag.Tag(), "!");
  EXPECT_EQ(flag.as<std::string>(), "true");
  EXPECT_EQ(cfg["machine"]["kubelet"]["image"].as<std::string>(), "ghcr.io/siderolabs/kubelet:v1.32.3");
  EXPECT_EQ(cfg["machine"]["time"]["servers"][0].as<std::string>(), "10.66.0.1");
  // podSubnets is `merge:"replace"` in Talos: replaced, not appended.
  ASSERT_EQ(cfg["cluster"]["network"]["podSubnets"].size(), 1u);
  EXPECT_EQ(cfg["cluster"]["network"]["podSubnets"][0].as<std::string>(), "10.200.0.0/16");
  EXPECT_EQ(cfg["cluster"]["network"]["serviceSubnets"][0].as<std::string>(), "10.96.0.0/12");
  ExpectMatchesGolden(out, "profile-patch");
}

TEST(install_render, MachinePatchOverridesProfilePatch) {
  AppConfig app = MakeApp();
  app.profiles["default"].patches = {YAML::Load(kProfilePatch)};
  MachineConfig m = MakeMachine("cp-1");
  m.patches = {YAML::Load(R"(
machine:
  install:
    image: factory.talos.dev/installer/ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515:v1.9.5
  kubelet:
    extraArgs:
      max-pods: "250"
)")};
  const std::string out = Render(app, m);
  auto docs = Parse(out);
  ASSERT_EQ(docs.size(), 1u);
  const YAML::Node cfg = docs[0];
  EXPECT_EQ(cfg["machine"]["install"]["image"].as<std::string>(),
            "factory.talos.dev/installer/ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515:v1.9.5");
  // Maps merge key by key: the profile's kubelet flag survives.
  EXPECT_EQ(cfg["machine"]["kubelet"]["extraArgs"]["rotate-server-certificates"].as<std::string>(), "true");
  EXPECT_EQ(cfg["machine"]["kubelet"]["extraArgs"]["max-pods"].as<std::string>(), "250");
  ExpectMatchesGolden(out, "machine-overrides-profile");
}

TEST(install_render, PatchDelete) {
  AppConfig app = MakeApp();
  MachineConfig m = MakeMachine("cp-1");
  m.patches = {YAML::Load(R"(
machine:
  nodeLabels:
    node.kubernetes.io/exclude-from-external-load-balancers:
      $patch: delete
cluster:
  apiServer:
    admissionControl:
      - name: PodSecurity
        $patch: delete
  extraManifests:
    $patch: delete
)")};
  const std::string out = Render(app, m);
  auto docs = Parse(out);
  ASSERT_EQ(docs.size(), 1u);
  const YAML::Node cfg = docs[0];
  EXPECT_TRUE(cfg["machine"]["nodeLabels"].IsMap());
  EXPECT_EQ(cfg["machine"]["nodeLabels"].size(), 0u);
  EXPECT_TRUE(cfg["cluster"]["apiServer"]["admissionControl"].IsSequence());
  EXPECT_EQ(cfg["cluster"]["apiServer"]["admissionControl"].size(), 0u);
  EXPECT_FALSE(cfg["cluster"]["extraManifests"]);
  EXPECT_EQ(out.find("$patch"), std::string::npos);
  ExpectMatchesGolden(out, "patch-delete");
}

TEST(install_render, InstallDiskShorthand) {
  AppConfig app = MakeApp();
  MachineConfig m = MakeMachine("cp-1");
  m.install_disk = "/dev/nvme0n1";
  const std::string out = Render(app, m);
  auto docs = Parse(out);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["machine"]["install"]["disk"].as<std::string>(), "/dev/nvme0n1");
  EXPECT_EQ(docs[0]["machine"]["install"]["image"].as<std::string>(), "ghcr.io/siderolabs/installer:v1.9.5");
  ExpectMatchesGolden(out, "shorthand-install-disk");

  // The machine's own patches still win over the shorthand.
  m.patches = {YAML::Load("machine: {install: {disk: /dev/sdb}}")};
  auto patched = Parse(Render(app, m));
  ASSERT_EQ(patched.size(), 1u);
  EXPECT_EQ(patched[0]["machine"]["install"]["disk"].as<std::string>(), "/dev/sdb");
}

TEST(install_render, HostnameFromNameUnlessAPatchSetsIt) {
  AppConfig app = MakeApp();
  MachineConfig m = MakeMachine("rack4-node7", Role::kWorker);
  auto docs = Parse(Render(app, m));
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["machine"]["network"]["hostname"].as<std::string>(), "rack4-node7");

  m.patches = {YAML::Load("machine: {network: {hostname: storage-7}}")};
  docs = Parse(Render(app, m));
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["machine"]["network"]["hostname"].as<std::string>(), "storage-7");

  // A profile patch counts as a patch too.
  m.patches.clear();
  app.profiles["default"].patches = {YAML::Load("machine: {network: {hostname: from-profile}}")};
  docs = Parse(Render(app, m));
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["machine"]["network"]["hostname"].as<std::string>(), "from-profile");

  // A name that reads as a number stays a string.
  app.profiles["default"].patches.clear();
  m.name = "1234";
  const std::string out = Render(app, m);
  docs = Parse(out);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["machine"]["network"]["hostname"].Tag(), "!");
}

TEST(install_render, StaticIp) {
  AppConfig app = MakeApp();
  MachineConfig m = MakeMachine("cp-1");
  m.ip = Ipv4Address::Parse("10.66.0.11");
  const std::string out = Render(app, m);
  auto docs = Parse(out);
  ASSERT_EQ(docs.size(), 1u);
  const YAML::Node network = docs[0]["machine"]["network"];
  ASSERT_EQ(network["interfaces"].size(), 1u);
  const YAML::Node nic = network["interfaces"][0];
  EXPECT_EQ(nic["deviceSelector"]["hardwareAddr"].as<std::string>(), "52:54:00:12:34:56");
  ASSERT_EQ(nic["addresses"].size(), 1u);
  EXPECT_EQ(nic["addresses"][0].as<std::string>(), "10.66.0.11/24");
  ASSERT_EQ(nic["routes"].size(), 1u);
  EXPECT_EQ(nic["routes"][0]["network"].as<std::string>(), "0.0.0.0/0");
  EXPECT_EQ(nic["routes"][0]["gateway"].as<std::string>(), "10.66.0.1");
  EXPECT_EQ(nic["dhcp"].Tag(), "?");
  EXPECT_FALSE(nic["dhcp"].as<bool>());
  EXPECT_EQ(network["nameservers"][0].as<std::string>(), "10.66.0.1");
  EXPECT_EQ(network["hostname"].as<std::string>(), "cp-1");
  ExpectMatchesGolden(out, "static-ip");
}

TEST(install_render, StaticIpOutsideDhcpSubnetsIsSlash24WithoutRoute) {
  AppConfig app = MakeApp();
  MachineConfig m = MakeMachine("edge-1", Role::kWorker);
  m.ip = Ipv4Address::Parse("192.168.5.20");
  auto docs = Parse(Render(app, m));
  ASSERT_EQ(docs.size(), 1u);
  const YAML::Node nic = docs[0]["machine"]["network"]["interfaces"][0];
  EXPECT_EQ(nic["addresses"][0].as<std::string>(), "192.168.5.20/24");
  EXPECT_FALSE(nic["routes"]);
  EXPECT_FALSE(docs[0]["machine"]["network"]["nameservers"]);
}

TEST(install_render, StaticIpPrefixFollowsTheSubnet) {
  AppConfig app = MakeApp();
  SubnetConfig wide;
  wide.subnet = *Ipv4Cidr::Parse("172.20.0.0/16");
  wide.router = Ipv4Address::Parse("172.20.0.254");
  app.dhcp.subnets.push_back(wide);
  MachineConfig m = MakeMachine("w-9", Role::kWorker);
  m.ip = Ipv4Address::Parse("172.20.3.9");
  auto docs = Parse(Render(app, m));
  ASSERT_EQ(docs.size(), 1u);
  const YAML::Node nic = docs[0]["machine"]["network"]["interfaces"][0];
  EXPECT_EQ(nic["addresses"][0].as<std::string>(), "172.20.3.9/16");
  EXPECT_EQ(nic["routes"][0]["gateway"].as<std::string>(), "172.20.0.254");
}

TEST(install_render, MachinePatchMergesIntoTheStaticIpInterfaceByDeviceSelector) {
  AppConfig app = MakeApp();
  MachineConfig m = MakeMachine("cp-1");
  m.ip = Ipv4Address::Parse("10.66.0.11");
  m.patches = {YAML::Load(R"(
machine:
  network:
    interfaces:
      - deviceSelector:
          hardwareAddr: "52:54:00:12:34:56"
        mtu: 9000
        vip:
          ip: 10.66.0.10
      - interface: eth1
        dhcp: true
)")};
  auto docs = Parse(Render(app, m));
  ASSERT_EQ(docs.size(), 1u);
  const YAML::Node interfaces = docs[0]["machine"]["network"]["interfaces"];
  ASSERT_EQ(interfaces.size(), 2u);
  EXPECT_EQ(interfaces[0]["mtu"].as<int>(), 9000);
  EXPECT_EQ(interfaces[0]["vip"]["ip"].as<std::string>(), "10.66.0.10");
  EXPECT_EQ(interfaces[0]["addresses"][0].as<std::string>(), "10.66.0.11/24");
  EXPECT_EQ(interfaces[1]["interface"].as<std::string>(), "eth1");
}

TEST(install_render, ListsAppendExceptReplaceFieldsAndDeleteThenSet) {
  AppConfig app = MakeApp();
  app.profiles["default"].patches = {YAML::Load("machine: {network: {nameservers: [1.1.1.1, 8.8.8.8]}}")};
  MachineConfig m = MakeMachine("cp-1");
  m.patches = {YAML::Load(R"(
machine:
  certSANs: [cp-1.lab.example.com]
  network:
    nameservers:
      $patch: delete
cluster:
  network:
    serviceSubnets: [10.100.0.0/16]
  apiServer:
    certSANs: [api.lab.example.com]
)"),
               YAML::Load("machine: {network: {nameservers: [10.66.0.53]}}")};
  const std::string out = Render(app, m);
  auto docs = Parse(out);
  ASSERT_EQ(docs.size(), 1u);
  const YAML::Node cfg = docs[0];
  // serviceSubnets: merge:"replace" in Talos.
  ASSERT_EQ(cfg["cluster"]["network"]["serviceSubnets"].size(), 1u);
  EXPECT_EQ(cfg["cluster"]["network"]["serviceSubnets"][0].as<std::string>(), "10.100.0.0/16");
  // Ordinary lists append, as talosctl does.
  ASSERT_EQ(cfg["cluster"]["apiServer"]["certSANs"].size(), 2u);
  EXPECT_EQ(cfg["cluster"]["apiServer"]["certSANs"][0].as<std::string>(), "10.66.0.10");
  EXPECT_EQ(cfg["cluster"]["apiServer"]["certSANs"][1].as<std::string>(), "api.lab.example.com");
  ASSERT_EQ(cfg["machine"]["certSANs"].size(), 1u);
  // Delete, then set: the list is replaced.
  ASSERT_EQ(cfg["machine"]["network"]["nameservers"].size(), 1u);
  EXPECT_EQ(cfg["machine"]["network"]["nameservers"][0].as<std::string>(), "10.66.0.53");
  ExpectMatchesGolden(out, "list-replacement");
}

TEST(install_render, InlineManifestsPassThroughByteForByte) {
  AppConfig app = MakeApp();
  const std::string tricky =
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tricky\ndata:\n"
      "  script.sh: |\n    #!/bin/sh\n    echo \"a: b\" # not a comment\n\tindented with a tab\n"
      "trailing spaces   \n\n\nblank lines above\n  \"quoted\" and 'single' and \\backslash\n"
      "unicode: h\xc3\xa9llo \xe2\x9c\x93\n---\nkind: Secret\nno newline at the end";
  YAML::Node manifest;
  manifest["name"] = "tricky";
  manifest["contents"] = tricky;
  YAML::Node list;
  list.push_back(manifest);
  YAML::Node patch;
  patch["cluster"]["inlineManifests"] = list;
  MachineConfig m = MakeMachine("cp-1");
  m.patches = {patch};
  const std::string out = Render(app, m);
  auto docs = Parse(out);
  ASSERT_EQ(docs.size(), 1u);

  auto base = Parse(ReadFile(kGolden + "/controlplane.yaml"));
  ASSERT_EQ(base.size(), 1u);
  const std::string argo = InlineManifest(base[0], "argocd-bootstrap");
  ASSERT_NE(argo.find("    # keep this comment: it is part of the value\n"), std::string::npos);
  EXPECT_EQ(InlineManifest(docs[0], "argocd-bootstrap"), argo);
  EXPECT_EQ(InlineManifest(docs[0], "tricky"), tricky);
  // Talos has no keyed merge for inlineManifests: the patch's one is appended.
  EXPECT_EQ(docs[0]["cluster"]["inlineManifests"].size(), 2u);
  // Written as a readable literal block, not one escaped line.
  EXPECT_NE(out.find("contents: |-\n"), std::string::npos);
  ExpectMatchesGolden(out, "inline-manifests");
}

TEST(install_render, MultiDocumentBase) {
  AppConfig app = MakeApp();
  MachineConfig m = MakeMachine("cp-1");
  m.profile = "multidoc";
  m.install_disk = "/dev/vda";
  m.patches = {YAML::Load("machine: {kubelet: {extraArgs: {max-pods: \"250\"}}}"),
               YAML::Load(R"(
apiVersion: v1alpha1
kind: VolumeConfig
name: EPHEMERAL
provisioning:
  maxSize: 200GiB
)")};
  const std::string out = Render(app, m);
  auto docs = Parse(out);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0]["version"].as<std::string>(), "v1alpha1");
  EXPECT_EQ(docs[0]["machine"]["network"]["hostname"].as<std::string>(), "cp-1");
  EXPECT_EQ(docs[0]["machine"]["install"]["disk"].as<std::string>(), "/dev/vda");
  EXPECT_EQ(docs[0]["machine"]["kubelet"]["extraArgs"]["max-pods"].as<std::string>(), "250");
  EXPECT_EQ(docs[1]["kind"].as<std::string>(), "VolumeConfig");
  EXPECT_EQ(docs[1]["provisioning"]["maxSize"].as<std::string>(), "200GiB");
  EXPECT_EQ(docs[1]["provisioning"]["diskSelector"]["match"].as<std::string>(), "system_disk");
  EXPECT_FALSE(docs[1]["machine"]);
  EXPECT_EQ(docs[2]["kind"].as<std::string>(), "KmsgLogConfig");
  EXPECT_EQ(docs[2]["url"].as<std::string>(), "tcp://10.66.0.1:50102/");
  ExpectMatchesGolden(out, "multidoc");
}

TEST(install_render, TypedPatchForANewDocumentIsAppendedAndCanBeDeleted) {
  AppConfig app = MakeApp();
  MachineConfig m = MakeMachine("cp-1");
  m.profile = "multidoc";
  m.patches = {YAML::Load("apiVersion: v1alpha1\nkind: KmsgLogConfig\nname: metalpxe\n$patch: delete\n"),
               YAML::Load("apiVersion: v1alpha1\nkind: EventSinkConfig\nendpoint: 10.66.0.1:50101\n")};
  auto docs = Parse(Render(app, m));
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[1]["kind"].as<std::string>(), "VolumeConfig");
  EXPECT_EQ(docs[2]["kind"].as<std::string>(), "EventSinkConfig");
}

// --- Talos 1.12+ releases: shorthands as documents --------------------------

const std::string kExamples = METALPXE_EXAMPLES_DIR;

// The deploy/examples Talos 1.14 configs, with no talosVersion: the documents
// say which release they are for.
AppConfig MakeCurrentApp() {
  AppConfig app = MakeApp();
  ProfileConfig current;
  current.name = "current";
  current.configs[Role::kControlPlane] = kExamples + "/talos/controlplane.yaml";
  current.configs[Role::kWorker] = kExamples + "/talos/worker.yaml";
  app.profiles["current"] = current;
  return app;
}

const YamlValue* Doc(const std::vector<YamlValue>& docs, std::string_view kind, std::string_view name = {}) {
  for (const auto& d : docs) {
    const YamlValue* k = d.Find("kind");
    const YamlValue* n = d.Find("name");
    if (k != nullptr && k->text() == kind && (name.empty() || (n != nullptr && n->text() == name))) return &d;
  }
  return nullptr;
}

std::size_t CountKind(const std::vector<YamlValue>& docs, std::string_view kind) {
  return static_cast<std::size_t>(std::count_if(docs.begin(), docs.end(), [&](const YamlValue& d) {
    const YamlValue* k = d.Find("kind");
    return k != nullptr && k->text() == kind;
  }));
}

std::string At(const YamlValue* v, std::initializer_list<std::string_view> path) {
  for (std::string_view key : path) {
    if (v == nullptr) return "<none>";
    if (v->is_seq()) {
      const std::size_t i = static_cast<std::size_t>(std::stoul(std::string(key)));
      v = i < v->items().size() ? &v->items()[i] : nullptr;
    } else {
      v = v->is_map() ? v->Find(key) : nullptr;
    }
  }
  return v == nullptr ? "<none>" : v->is_scalar() ? v->text() : std::string(v->KindName());
}

std::vector<YamlValue> RenderDocs(const AppConfig& app, const MachineConfig& m) {
  auto docs = ParseYamlDocuments(Render(app, m), "rendered");
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  return docs.ok() ? *docs : std::vector<YamlValue>{};
}

TEST(install_render_current, ShorthandsWriteTheDocumentsTalos114Reads) {
  const AppConfig app = MakeCurrentApp();
  MachineConfig m = MakeMachine("cp-1");
  m.profile = "current";
  m.install_disk = "/dev/nvme0n1";
  m.ip = Ipv4Address::Parse("10.66.0.11");
  const std::string out = Render(app, m);
  auto parsed = ParseYamlDocuments(out, "rendered");
  ASSERT_TRUE(parsed.ok());
  const std::vector<YamlValue>& docs = *parsed;
  // v1alpha1 gets none of it (1.15's schema does not even document machine.network).
  EXPECT_EQ(At(&docs[0], {"machine", "network"}), "<none>");
  EXPECT_EQ(At(&docs[0], {"machine", "install"}), "<none>");
  // installDisk: the gen config's UnattendedInstallConfig selects the disk.
  ASSERT_EQ(CountKind(docs, "UnattendedInstallConfig"), 1u);
  const YamlValue* install = Doc(docs, "UnattendedInstallConfig");
  EXPECT_EQ(At(install, {"provisioning", "diskSelector", "match"}), "disk.dev_path == \"/dev/nvme0n1\"");
  EXPECT_EQ(At(install, {"installer", "image"}), "ghcr.io/siderolabs/installer:v1.14.0");
  // ip: an alias for the boot NIC and the link config of that alias.
  EXPECT_EQ(At(Doc(docs, "LinkAliasConfig", "mgmt0"), {"selector", "match"}),
            "mac(link.hardware_addr) == \"52:54:00:12:34:56\"");
  const YamlValue* link = Doc(docs, "LinkConfig", "mgmt0");
  EXPECT_EQ(At(link, {"addresses", "0", "address"}), "10.66.0.11/24");
  EXPECT_EQ(At(link, {"routes", "0", "gateway"}), "10.66.0.1");
  EXPECT_EQ(At(link, {"routes", "0", "destination"}), "<none>");  // a default route
  // nameservers join gen config's ResolverConfig, whose hostDNS stays.
  ASSERT_EQ(CountKind(docs, "ResolverConfig"), 1u);
  EXPECT_EQ(At(Doc(docs, "ResolverConfig"), {"nameservers", "0", "address"}), "10.66.0.1");
  EXPECT_EQ(At(Doc(docs, "ResolverConfig"), {"hostDNS", "enabled"}), "true");
  // hostname: gen config's `auto: stable` gives way to the machine's name.
  ASSERT_EQ(CountKind(docs, "HostnameConfig"), 1u);
  EXPECT_EQ(At(Doc(docs, "HostnameConfig"), {"hostname"}), "cp-1");
  EXPECT_EQ(At(Doc(docs, "HostnameConfig"), {"auto"}), "off");
  ExpectMatchesGolden(out, "current-shorthands");
}

TEST(install_render_current, MachinePatchesComeAfterTheShorthandsAndBeforeTheDefaults) {
  const AppConfig app = MakeCurrentApp();
  MachineConfig m = MakeMachine("w-1", Role::kWorker);
  m.profile = "current";
  m.install_disk = "/dev/disk/by-id/nvme-SAMSUNG_MZVL2512HCJQ-00B00_S000000";
  m.ip = Ipv4Address::Parse("10.66.0.21");
  m.patches = {YAML::Load("{apiVersion: v1alpha1, kind: LinkConfig, name: mgmt0, mtu: 9000}"),
               YAML::Load("{apiVersion: v1alpha1, kind: HostnameConfig, auto: stable}"),
               YAML::Load("{apiVersion: v1alpha1, kind: ResolverConfig, nameservers: [{address: 9.9.9.9}]}")};
  const auto docs = RenderDocs(app, m);
  EXPECT_EQ(At(Doc(docs, "UnattendedInstallConfig"), {"provisioning", "diskSelector", "match"}),
            "\"/dev/disk/by-id/nvme-SAMSUNG_MZVL2512HCJQ-00B00_S000000\" in disk.symlinks");
  EXPECT_EQ(At(Doc(docs, "LinkConfig", "mgmt0"), {"mtu"}), "9000");
  EXPECT_EQ(At(Doc(docs, "LinkConfig", "mgmt0"), {"addresses", "0", "address"}), "10.66.0.21/24");
  // The patch set nameservers: the subnet's are not added.
  EXPECT_EQ(At(Doc(docs, "ResolverConfig"), {"nameservers", "0", "address"}), "9.9.9.9");
  EXPECT_EQ(At(Doc(docs, "ResolverConfig"), {"nameservers", "1"}), "<none>");
  // `auto: stable` is what gen config says too: the name still becomes the hostname.
  EXPECT_EQ(At(Doc(docs, "HostnameConfig"), {"hostname"}), "w-1");

  // A hostname set by a patch wins; deleting the document leaves a new one with the name.
  m.patches = {YAML::Load("{apiVersion: v1alpha1, kind: HostnameConfig, hostname: storage-7, auto: 'off'}")};
  EXPECT_EQ(At(Doc(RenderDocs(app, m), "HostnameConfig"), {"hostname"}), "storage-7");
  m.patches = {YAML::Load("{apiVersion: v1alpha1, kind: HostnameConfig, $patch: delete}")};
  const auto deleted = RenderDocs(app, m);
  ASSERT_EQ(CountKind(deleted, "HostnameConfig"), 1u);
  EXPECT_EQ(At(Doc(deleted, "HostnameConfig"), {"hostname"}), "w-1");
}

TEST(install_render_current, ProfileTalosVersionDecidesOverTheDocuments) {
  AppConfig app = MakeApp();
  // A v1alpha1-only base served to Talos 1.12: network settings as documents,
  // the install disk still in machine.install (UnattendedInstallConfig is 1.14).
  app.profiles["default"].talos_version = "v1.12.4";
  MachineConfig m = MakeMachine("w-1", Role::kWorker);
  m.install_disk = "/dev/vdb";
  m.ip = Ipv4Address::Parse("10.66.0.21");
  const auto docs = RenderDocs(app, m);
  EXPECT_EQ(At(&docs[0], {"machine", "install", "disk"}), "/dev/vdb");
  EXPECT_EQ(CountKind(docs, "UnattendedInstallConfig"), 0u);
  EXPECT_EQ(At(&docs[0], {"machine", "network", "interfaces"}), "<none>");
  EXPECT_EQ(At(Doc(docs, "LinkConfig", "mgmt0"), {"addresses", "0", "address"}), "10.66.0.21/24");
  EXPECT_EQ(At(Doc(docs, "ResolverConfig"), {"nameservers", "0", "address"}), "10.66.0.1");
  // machine.features.stableHostname is set in this base: a HostnameConfig
  // would conflict with it in Talos, so the name goes to v1alpha1.
  EXPECT_EQ(At(&docs[0], {"machine", "network", "hostname"}), "w-1");
  EXPECT_EQ(CountKind(docs, "HostnameConfig"), 0u);

  // Talos 1.14 without an UnattendedInstallConfig nor machine.install: one is made.
  app.profiles["current"] = app.profiles["default"];
  app.profiles["current"].talos_version = "v1.14.0";
  app.profiles["current"].patches = {YAML::Load("machine: {install: {$patch: delete}}")};
  m.profile = "current";
  const auto made = RenderDocs(app, m);
  EXPECT_EQ(At(&made[0], {"machine", "install"}), "<none>");
  EXPECT_EQ(At(Doc(made, "UnattendedInstallConfig"), {"provisioning", "diskSelector", "match"}),
            "disk.dev_path == \"/dev/vdb\"");
}

TEST(install_render_current, ABaseOfOtherDocumentsOnlyRenders) {
  AppConfig app = MakeApp();
  const std::string dir = ::testing::TempDir();
  std::ofstream(dir + "/links-only.yaml") << "apiVersion: v1alpha1\nkind: LinkConfig\nname: eth0\nmtu: 1500\n";
  std::ofstream(dir + "/empty.yaml") << "# nothing yet\n";
  app.profiles["default"].configs[Role::kWorker] = dir + "/links-only.yaml";
  auto docs = RenderDocs(app, MakeMachine("w-1", Role::kWorker));
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(At(Doc(docs, "HostnameConfig"), {"hostname"}), "w-1");
  app.profiles["default"].configs[Role::kWorker] = dir + "/empty.yaml";
  docs = RenderDocs(app, MakeMachine("w-1", Role::kWorker));
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(At(Doc(docs, "HostnameConfig"), {"hostname"}), "w-1");
}

// --- errors: human messages, never config contents -------------------------

std::string RenderError(const AppConfig& app, const MachineConfig& m, ErrorCode* code = nullptr) {
  auto rendered = RenderMachineConfig(app, m);
  EXPECT_FALSE(rendered.ok());
  if (rendered.ok()) return {};
  if (code != nullptr) *code = rendered.status().code();
  const std::string message = rendered.status().message();
  // No secret of the base config may leak into a message.
  for (const char* secret : {"8bz3ke.l4qpmxgu0t1v2wyd", "q7u2xd.zbk9fakefakefake1", "LS0tLS1CRUdJTi"}) {
    EXPECT_EQ(message.find(secret), std::string::npos) << message;
  }
  return message;
}

TEST(install_render_errors, MissingBaseFile) {
  AppConfig app = MakeApp();
  app.profiles["default"].configs[Role::kControlPlane] = kGolden + "/does-not-exist.yaml";
  ErrorCode code{};
  const std::string message = RenderError(app, MakeMachine("cp-1"), &code);
  EXPECT_EQ(code, ErrorCode::kNotFound);
  EXPECT_NE(message.find("does-not-exist.yaml"), std::string::npos) << message;
  EXPECT_NE(message.find("cp-1"), std::string::npos) << message;
}

TEST(install_render_errors, UnreadableBaseFile) {
  AppConfig app = MakeApp();
  app.profiles["default"].configs[Role::kControlPlane] = kGolden;  // a directory
  const std::string message = RenderError(app, MakeMachine("cp-1"));
  EXPECT_NE(message.find("base config"), std::string::npos) << message;
}

TEST(install_render_errors, UnknownProfileAndMissingRole) {
  AppConfig app = MakeApp();
  MachineConfig m = MakeMachine("cp-1");
  m.profile = "nope";
  EXPECT_NE(RenderError(app, m).find("profile 'nope'"), std::string::npos);
  app.profiles["default"].configs.erase(Role::kWorker);
  EXPECT_NE(RenderError(app, MakeMachine("w", Role::kWorker)).find("no worker config"), std::string::npos);
}

TEST(install_render_errors, PatchThatIsNeitherAMapNorAList) {
  AppConfig app = MakeApp();
  MachineConfig m = MakeMachine("cp-1");
  m.patches = {YAML::Load("just-text")};
  std::string message = RenderError(app, m);
  EXPECT_NE(message.find("machine 'cp-1' patch 1"), std::string::npos) << message;
  EXPECT_NE(message.find("a patch is a map (strategic merge) or a list of JSON6902 operations"), std::string::npos)
      << message;
  m.patches = {YAML::Load("[1, 2]")};
  message = RenderError(app, m);
  EXPECT_NE(message.find("operation 1 must be a map with op and path"), std::string::npos) << message;
}

TEST(install_render_errors, PatchWithConflictingTypes) {
  AppConfig app = MakeApp();
  app.profiles["default"].patches = {YAML::Load("machine: {token: [a, b]}")};
  const std::string message = RenderError(app, MakeMachine("cp-1"));
  EXPECT_NE(message.find("profile 'default' patch 1"), std::string::npos) << message;
  EXPECT_NE(message.find("machine.token is a scalar in the config but a list in the patch"), std::string::npos)
      << message;
}

TEST(install_render_errors, DeleteOfSomethingAbsent) {
  AppConfig app = MakeApp();
  MachineConfig m = MakeMachine("cp-1");
  m.patches = {YAML::Load("machine: {nodeLabels: {no-such-label: {$patch: delete}}}")};
  const std::string message = RenderError(app, m);
  EXPECT_NE(message.find("patch delete: path 'machine.nodeLabels.no-such-label' in document '/v1alpha1'"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("lookup failed"), std::string::npos) << message;
}

TEST(install_render_errors, BaseThatIsNotYamlOrNotTalosDocuments) {
  AppConfig app = MakeApp();
  const std::string dir = ::testing::TempDir();
  std::ofstream(dir + "/broken.yaml") << "machine:\n  token: secret-token-value\n  ca: [unclosed\n";
  std::ofstream(dir + "/not-talos.yaml") << "token: secret-token-value\n";
  std::ofstream(dir + "/twice.yaml") << "machine: {}\n---\nmachine: {}\n";
  app.profiles["default"].configs[Role::kControlPlane] = dir + "/broken.yaml";
  std::string message = RenderError(app, MakeMachine("cp-1"));
  EXPECT_NE(message.find("broken.yaml:"), std::string::npos) << message;
  EXPECT_EQ(message.find("secret-token-value"), std::string::npos) << message;
  app.profiles["default"].configs[Role::kControlPlane] = dir + "/not-talos.yaml";
  message = RenderError(app, MakeMachine("cp-1"));
  EXPECT_NE(message.find("missing kind"), std::string::npos) << message;
  app.profiles["default"].configs[Role::kControlPlane] = dir + "/twice.yaml";
  message = RenderError(app, MakeMachine("cp-1"));
  EXPECT_NE(message.find("/v1alpha1 appears twice"), std::string::npos) << message;
}

// A machine of a named cluster renders from its cluster's base config; its
// profile (here one without configs) only adds what it has.
TEST(MachineConfigRenderer, ANamedClusterMachineUsesItsClusterBaseConfig) {
  AppConfig app = MakeApp();
  ProfileConfig bare;
  bare.name = "bare";  // no configs: the cluster has them
  app.profiles["bare"] = bare;
  ClusterConfig cluster;
  cluster.name = "prod";
  cluster.configs[Role::kControlPlane] = kGolden + "/controlplane-multidoc.yaml";
  cluster.configs[Role::kWorker] = kGolden + "/worker.yaml";
  app.clusters["prod"] = cluster;
  MachineConfig m = MakeMachine("cp-9");
  m.profile = "bare";
  m.cluster = "prod";
  const std::string from_cluster = Render(app, m);
  ASSERT_FALSE(from_cluster.empty());
  // The same machine on the profile that names that file renders the same.
  MachineConfig same = MakeMachine("cp-9");
  same.profile = "multidoc";
  EXPECT_EQ(from_cluster, Render(app, same));
  // Without the cluster, a profile without configs has nothing to render from.
  m.cluster.clear();
  EXPECT_FALSE(RenderMachineConfig(app, m).ok());
}

}  // namespace
}  // namespace metalpxe
