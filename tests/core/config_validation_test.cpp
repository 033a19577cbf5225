// Every validation error class, at its exact line and column, from the
// deliberately broken configs in deploy/examples/broken/.
#include <gtest/gtest.h>

#include "tests/support/paths.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/config_clusters.h"
#include "core/config_loader.h"

namespace metalpxe {
namespace {

std::string Examples() { return testing::SourceDir() + "/deploy/examples"; }

// Problems as "basename:line:column: message", in reported order.
std::vector<std::string> ProblemsOf(const std::string& file) {
  LoadedConfig loaded = LoadAppConfig(Examples() + "/" + file);
  std::vector<std::string> out;
  for (const auto& p : loaded.problems) {
    ConfigProblem q = p;
    q.file = q.file.substr(q.file.rfind('/') + 1);
    out.push_back(q.ToString());
  }
  return out;
}

TEST(ConfigValidation, ExampleIsValid) {
  LoadedConfig loaded = LoadAppConfig(Examples() + "/metalpxe.yaml");
  ASSERT_TRUE(loaded.ok()) << (loaded.problems.empty() ? "" : loaded.problems[0].ToString());
  const AppConfig& c = *loaded.config;
  EXPECT_EQ(c.server.address.ToString(), "10.66.0.1");
  EXPECT_EQ(c.dhcp.subnets.at(0).lease_time, std::chrono::hours(1));
  ASSERT_EQ(c.inventory->machines.size(), 4u);
  // MACs in any accepted spelling are stored in one canonical form.
  const MachineConfig& cp2 = c.inventory->machines[1];
  EXPECT_EQ(cp2.macs.at(0).ToString(), "52:54:00:12:34:57");
  EXPECT_EQ(cp2.macs.at(1).ToString(), "52:54:00:aa:bb:02");
  EXPECT_EQ(c.inventory->FindByMac(*MacAddress::Parse("52-54-00-AA-BB-02")), &cp2);
  // Relative paths resolve against the file that names them.
  EXPECT_EQ(c.profiles.at("default").configs.at(Role::kWorker), Examples() + "/talos/worker.yaml");
  // The BMC password was read from its file, and only its source is printable.
  const BmcConfig& bmc = *c.inventory->machines[0].bmc;
  EXPECT_EQ(bmc.password.Reveal(), "lab-ipmi-sim-secret");  // IPMI 2.0: at most 20 bytes
  EXPECT_EQ(fmt::format("{}", bmc.password), "<redacted>");
  EXPECT_EQ(bmc.password_source, "file " + Examples() + "/bmc/lab-bmc.password");
  // Power pacing for remote reinstalls.
  EXPECT_EQ(c.power.min_interval, std::chrono::minutes(1));
  EXPECT_EQ(c.power.pxe_timeout, std::chrono::minutes(10));
  EXPECT_EQ(c.power.attempts, 3);
  // A cluster from one talosctl gen config run; cp-1 and cp-2 belong to it,
  // worker-1 keeps the profile's configs (the unnamed cluster).
  const ClusterConfig& homelab = c.clusters.at("homelab");
  EXPECT_EQ(homelab.endpoint, "https://10.66.0.11:6443");
  EXPECT_EQ(homelab.bootstrap, BootstrapMode::kAuto);
  EXPECT_EQ(homelab.talos.context, "homelab");
  EXPECT_TRUE(homelab.talos.HasRole(kTalosRoleAdmin));
  EXPECT_EQ(homelab.talos.key_pem.Reveal().rfind("-----BEGIN PRIVATE KEY-----", 0), 0u) << "converted for OpenSSL";
  EXPECT_EQ(ClusterOf(c, c.inventory->machines[0]), &homelab);
  EXPECT_EQ(BaseConfigPathFor(c, c.inventory->machines[0]), Examples() + "/talos/homelab/controlplane.yaml");
  EXPECT_EQ(ConfigDeliveryFor(c, c.inventory->machines[0]), ConfigDelivery::kUrl);
  EXPECT_EQ(ConfigDeliveryFor(c, c.inventory->machines[1]), ConfigDelivery::kApply);
  EXPECT_EQ(ClusterOf(c, c.inventory->machines[2]), nullptr);
  EXPECT_EQ(BaseConfigPathFor(c, c.inventory->machines[2]), Examples() + "/talos/worker.yaml");
}

TEST(ConfigValidation, HetznerDedicatedExampleIsValid) {
  LoadedConfig loaded = LoadAppConfig(Examples() + "/hetzner-dedicated/metalpxe.yaml");
  ASSERT_TRUE(loaded.ok()) << (loaded.problems.empty() ? "" : loaded.problems[0].ToString());
  const AppConfig& c = *loaded.config;
  EXPECT_EQ(c.power.hetzner_robot.url, "https://robot-ws.your-server.de");
  // talos-image.yaml's ID, computed as Image Factory does (the SHA-256 of its
  // yaml.v3 rendering; image_schematic_test checks that against Image
  // Factory's own test vectors).
  const ProfileConfig& p = c.profiles.at("hetzner");
  EXPECT_EQ(p.schematic, "d5088f6df91dd1fa05a50417c48f5222ed7470710374f3ee8587fb08e10a960d");
  EXPECT_EQ(p.schematic_file, Examples() + "/hetzner-dedicated/talos-image.yaml");
  ASSERT_EQ(c.inventory->machines.size(), 3u);
  const MachineConfig& hz1 = c.inventory->machines[0];
  EXPECT_EQ(hz1.name, "hz-1");
  EXPECT_EQ(hz1.config_delivery, ConfigDelivery::kApply);
  const BmcConfig& b = *hz1.bmc;
  EXPECT_EQ(b.type, BmcType::kHetznerRobot);
  EXPECT_EQ(b.address, "1234567");
  EXPECT_EQ(b.install_method, InstallMethod::kImage);
  // ssh-keygen -l -E md5 -f robot-rescue.key.pub
  EXPECT_EQ(b.ssh_key_fingerprint, "91:4a:f6:6f:9e:25:23:aa:ad:63:3e:e2:8c:05:47:e6");
  EXPECT_EQ(c.inventory->machines[2].bmc->install_method, InstallMethod::kKexec);
  // Where configDelivery apply sends hz-2's config; hz-1's goes to Robot's server_ip.
  EXPECT_FALSE(hz1.ip.has_value());
  ASSERT_TRUE(c.inventory->machines[1].ip.has_value());
  EXPECT_EQ(c.inventory->machines[1].ip->ToString(), "203.0.113.22");
}

TEST(ConfigValidation, Clusters) {
  const std::string dir = Examples() + "/broken/";
  EXPECT_EQ(ProblemsOf("broken/clusters.yaml"),
            (std::vector<std::string>{
                "clusters.yaml:17:18: clusters.reader.talosconfig: the client certificate of context 'homelab' has "
                "role os:reader; metalpxe needs os:admin (Bootstrap, Kubeconfig and Upgrade are admin-only in Talos)",
                "clusters.yaml:20:15: clusters.mixed.endpoint: https://10.66.0.99:6443 is not the controlplane base "
                "config's cluster.controlPlane.endpoint (https://10.66.0.11:6443)",
                "clusters.yaml:22:16: clusters.mixed.bootstrap: 'sometimes' is not one of auto | manual",
                "clusters.yaml:24:21: clusters.mixed.configs.controlplane: machine.ca.crt of " + dir +
                    "clusters/other-controlplane.yaml is not the CA of talosconfig " + dir +
                    "../talos/homelab/talosconfig (context 'homelab'): they come from different talosctl gen config "
                    "runs",
                "clusters.yaml:27:15: clusters.bad-endpoint.endpoint: '10.66.0.11:6443' is not a Kubernetes API "
                "endpoint like https://10.66.0.10:6443",
                "clusters.yaml:30:7: clusters.bad-endpoint.configs.worker is required",
                "clusters.yaml:35:21: profiles.default.configDelivery: 'email' is not one of url | apply",
                "clusters.yaml:40:14: machines[0].cluster: cluster 'prod' is not defined under clusters",
                "clusters.yaml:41:5: machines[1] names no cluster and its profile 'default' has no configs: give it a "
                "cluster",
                "talosconfig-bad:7:13: contexts.homelab.ca: not base64 (a character outside A-Z a-z 0-9 + / =) "
                "(talosctl writes base64-encoded PEM here)",
                "talosconfig-bad:8:14: contexts.homelab.crt: no PEM certificate found",
                "talosconfig-bad:9:14: contexts.homelab.key: no PEM private key found",
                "talosconfig-no-creds:5:9: contexts.homelab has no client credentials (ca, crt, key missing): it "
                "authenticates through `auth` (Omni, SideroLink), which metalpxe cannot use; use the talosconfig "
                "that `talosctl gen config` wrote",
            }));
}

TEST(ConfigValidation, TypesAndRanges) {
  EXPECT_EQ(ProblemsOf("broken/types.yaml"),
            (std::vector<std::string>{
                "types.yaml:3:13: server.httpPort must be a whole number, not 'eighty'",
                "types.yaml:4:13: server.tftpPort must be between 1 and 65535, not 70000",
                "types.yaml:5:14: server.apiListen: 'localhost' is not ADDRESS:PORT (e.g. 0.0.0.0:50100)",
                "types.yaml:6:13: server.stateDir must be a string, not a list",
                "types.yaml:9:12: dhcp.subnets must be a list, not a scalar",
                "types.yaml:11:20: boot.unknownMachines: 'install-everything' is not one of ignore | discover | "
                "auto-install",
                "types.yaml:12:26: boot.configTokenMaxFetches must be between 1 and 1000, not 0",
                "types.yaml:14:16: power.minInterval: '0s' is not a duration of at least 1s",
                "types.yaml:15:15: power.pxeTimeout: '5s' is not a duration of at least 30s",
                "types.yaml:16:13: power.attempts must be between 1 and 10, not 20",
                "types.yaml:21:17: profiles.default.kernelArgs must be a list of strings, not a scalar",
            }));
}

TEST(ConfigValidation, SecureBoot) {
  EXPECT_EQ(ProblemsOf("broken/secureboot.yaml"),
            (std::vector<std::string>{
                "secureboot.yaml:9:17: profiles.default.secureBoot: 'yes-please' is not one of false | true | shim | uki",
                "secureboot.yaml:17:17: profiles.pi.secureBoot: the signed boot chain (shim + GRUB) is served to "
                "amd64 machines only, not arm64",
                "secureboot.yaml:25:17: machines[0].secureBoot must be true or false, not 'on'",
            }));
}

// secureBoot uki: Talos's signed UKI ignores the command line a boot loader
// gives it, so talos.config cannot reach it: configDelivery url is refused
// (profile and machine), apply is the profile's default.
TEST(ConfigValidation, SecureBootUki) {
  EXPECT_EQ(ProblemsOf("broken/secureboot-uki.yaml"),
            (std::vector<std::string>{
                "secureboot-uki.yaml:12:21: profiles.uki-by-url.configDelivery: url cannot reach a machine booted "
                "from the signed UKI (secureBoot: uki): the UKI ignores the kernel command line it is given, so "
                "talos.config is never seen; use configDelivery: apply (the default for UKI profiles) or put one "
                "config URL in the schematic's extraKernelArgs and secureBoot: false",
                "secureboot-uki.yaml:19:17: profiles.uki-without-uki.secureBoot: uki needs the UKI: talosVersion + "
                "schematic (Image Factory's metal-amd64-secureboot-uki.efi) or a uki file",
                "secureboot-uki.yaml:26:5: profiles.not-uki.uki is used only with secureBoot: uki",
                "secureboot-uki.yaml:34:16: profiles.uki.ukiSha256 must be a 64-character lower-case hex sha256",
                "secureboot-uki.yaml:43:21: machines[0].configDelivery: url cannot reach a machine booted from its "
                "profile's signed UKI (profile 'uki', secureBoot: uki): the UKI ignores the kernel command line it "
                "is given; use configDelivery: apply, or secureBoot: false for this machine",
            }));
}

TEST(ConfigValidation, SecureBootUkiDeliversByApplyByDefault) {
  const std::string talos = Examples() + "/talos/";
  const std::string path = ::testing::TempDir() + "/secureboot-uki-valid.yaml";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    const std::string yaml = "server:\n  address: 10.66.0.1\ndhcp:\n  mode: proxy\nprofiles:\n  default:\n"
                             "    kernel: " + talos + "controlplane.yaml\n    initramfs: " + talos + "worker.yaml\n"
                             "    uki: " + talos + "worker.yaml\n    secureBoot: uki\n    configs:\n"
                             "      controlplane: " + talos + "controlplane.yaml\n      worker: " + talos +
                             "worker.yaml\nmachines:\n  - name: cp-1\n    macs: [\"52:54:00:e2:e0:01\"]\n"
                             "    role: controlplane\n  - name: wk-1\n    macs: [\"52:54:00:e2:e0:02\"]\n"
                             "    role: worker\n    secureBoot: false\n    configDelivery: url\n";
    std::fputs(yaml.c_str(), f);
    std::fclose(f);
  }
  LoadedConfig loaded = LoadAppConfig(path);
  std::remove(path.c_str());
  ASSERT_TRUE(loaded.problems.empty()) << loaded.problems[0].ToString();
  const ProfileConfig& p = loaded.config->profiles.at("default");
  EXPECT_EQ(p.secure_boot, SecureBootChain::kUki);
  EXPECT_EQ(p.uki, talos + "worker.yaml");
  EXPECT_EQ(ConfigDeliveryFor(*loaded.config, *loaded.config->inventory->FindByName("cp-1")), ConfigDelivery::kApply);
  EXPECT_EQ(ConfigDeliveryFor(*loaded.config, *loaded.config->inventory->FindByName("wk-1")), ConfigDelivery::kUrl);
}

TEST(ConfigValidation, NetworksRangesAndOverlaps) {
  EXPECT_EQ(ProblemsOf("broken/network.yaml"),
            (std::vector<std::string>{
                "network.yaml:3:3: server.kmsgLogPort 8080 is already server.httpPort",
                "network.yaml:7:15: dhcp.subnets[0].subnet: '10.66.0.1/24' is not a CIDR subnet such as "
                "10.66.0.0/24 (host bits must be zero)",
                "network.yaml:10:13: dhcp.subnets[1].pool: 10.68.0.10-10.68.0.20 is not inside subnet 10.67.0.0/24",
                "network.yaml:11:15: dhcp.subnets[1].router: 10.1.1.1 is not inside subnet 10.67.0.0/24",
                "network.yaml:12:24: dhcp.subnets[1].dns[1]: '10.67.0.300' is not an IPv4 address",
                "network.yaml:13:18: dhcp.subnets[1].leaseTime: 'soon' is not a duration of at least 60s (e.g. 1h, "
                "30m, 3600)",
                "network.yaml:15:13: dhcp.subnets[2].pool: 10.67.0.0-10.67.0.50 includes the subnet's network or "
                "broadcast address",
                "network.yaml:17:13: dhcp.subnets[3].pool: '10.69.0.200-10.69.0.100' is not a range FIRST-LAST such "
                "as 10.66.0.100-10.66.0.200 (first <= last)",
                "network.yaml:20:19: profiles.default.talosVersion: '1.9.5' is not like v1.9.5",
                "network.yaml:22:19: profiles.default.kernelSha256 must be a 64-character lower-case hex sha256",
            }));
}

TEST(ConfigValidation, OverlappingSubnetsAndPools) {
  // network.yaml's overlapping entries are invalid for other reasons first;
  // this inline config overlaps and is otherwise valid.
  char path[] = "/tmp/mpx-overlap-XXXXXX.yaml";
  const int fd = mkstemps(path, 5);
  ASSERT_GE(fd, 0);
  const std::string text = "server:\n  address: 10.66.0.1\ndhcp:\n  subnets:\n"
                           "    - subnet: 10.66.0.0/24\n      pool: 10.66.0.100-10.66.0.200\n"
                           "    - subnet: 10.66.0.128/25\n      pool: 10.66.0.150-10.66.0.160\n"
                           "profiles:\n  default:\n    talosVersion: v1.9.5\n    schematic: "
                           "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba\n"
                           "    configs: {worker: " +
                           Examples() + "/talos/worker.yaml}\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  LoadedConfig loaded = LoadAppConfig(path);
  std::remove(path);
  std::vector<std::string> got;
  for (const auto& p : loaded.problems) got.push_back(std::to_string(p.line) + ":" + std::to_string(p.column) + ": " + p.message);
  EXPECT_EQ(got, (std::vector<std::string>{
                     "7:15: dhcp.subnets[1].subnet: 10.66.0.128/25 overlaps 10.66.0.0/24",
                     "8:13: dhcp.subnets[1].pool: 10.66.0.150-10.66.0.160 overlaps pool 10.66.0.100-10.66.0.200",
                 }));
}

TEST(ConfigValidation, MachinesMacsDuplicatesRolesProfilesPasswords) {
  EXPECT_EQ(ProblemsOf("broken/machines.yaml"),
            (std::vector<std::string>{
                "machines.yaml:16:33: machines[0].macs[1]: '52:54:00:12:34' is not a MAC address like "
                "52:54:00:12:34:56",
                "machines.yaml:19:11: machines[1].name: 'cp-1' is already the name of machines[0]",
                "machines.yaml:20:12: machines[1].macs: 52:54:00:12:34:56 already belongs to 'cp-1' (line 16)",
                "machines.yaml:21:11: machines[1].role: 'master' is not one of controlplane | worker",
                "machines.yaml:22:9: machines[1].ip: 10.66.0.11 is already the address of 'cp-1'",
                "machines.yaml:23:11: machines[2].name: 'Worker_1' is not a host name (lower-case letters, digits "
                "and '-', at most 63)",
                "machines.yaml:26:14: machines[2].profile: profile 'gpu' is not defined",
                "machines.yaml:27:9: machines[2].ip: 10.99.0.5 is not a host address of any dhcp.subnets entry",
                "machines.yaml:28:5: unknown key 'machines[2].instalDisk' (did you mean 'installDisk'?)",
                "machines.yaml:33:7: machines[2].bmc.password: passwords given inline are refused (the inventory "
                "is kept in Git); use passwordFile or passwordEnv",
                "machines.yaml:37:18: machines[3].installDisk: 'sda' is not a device path like /dev/sda",
                "machines.yaml:42:21: machines[3].bmc.passwordFile: /nonexistent/bmc-password does not exist",
                "machines.yaml:44:9: machines[3].patches[0] must be a Talos config patch: a map (strategic merge) or a "
                "list of JSON6902 operations, not a scalar",
            }));
}

TEST(ConfigValidation, FilesThatDoNotExistAndUndefinedProfiles) {
  const std::string dir = Examples() + "/broken/";
  EXPECT_EQ(ProblemsOf("broken/files.yaml"),
            (std::vector<std::string>{
                "files.yaml:6:19: boot.defaultProfile 'main' is not defined under profiles",
                "files.yaml:9:13: profiles.default.kernel: /nonexistent/vmlinuz does not exist",
                "files.yaml:10:16: profiles.default.initramfs: /nonexistent/initramfs.xz does not exist",
                "files.yaml:12:21: profiles.default.configs.controlplane: " + dir +
                    "missing-controlplane.yaml does not exist",
                "files.yaml:14:12: inventory: " + dir + "no-such-inventory.yaml does not exist",
            }));
}


TEST(ConfigValidation, SyntaxErrorPointsAtIt) {
  EXPECT_EQ(ProblemsOf("broken/syntax.yaml"),
            (std::vector<std::string>{"syntax.yaml:4:5: YAML syntax error: end of sequence flow not found"}));
}

TEST(ConfigValidation, UnknownKeysSuggestTheRightOne) {
  EXPECT_EQ(ProblemsOf("broken/unknown-key.yaml"),
            (std::vector<std::string>{
                "unknown-key.yaml:1:1: boot.defaultProfile 'default' is not defined under profiles",
                "unknown-key.yaml:2:3: server.address is required",
                "unknown-key.yaml:2:3: unknown key 'server.adress' (did you mean 'address'?)",
                "unknown-key.yaml:5:1: unknown key 'profile' (did you mean 'profiles'?)",
            }));
}

TEST(ConfigValidation, ProblemsInTheInventoryFilePointIntoIt) {
  EXPECT_EQ(ProblemsOf("broken/bad-inventory.yaml"),
            (std::vector<std::string>{
                "bad-inventory.machines.yaml:6:12: machines[1].macs: 52:54:00:00:00:01 already belongs to 'w-1' "
                "(line 3)",
                "bad-inventory.machines.yaml:10:20: machines[1].bmc.passwordEnv: environment variable "
                "METALPXE_TEST_SURELY_UNSET is not set",
            }));
}

TEST(ConfigValidation, IpmiPasswordLongerThanTwentyBytes) {
  const std::string dir = Examples() + "/broken/";
  EXPECT_EQ(ProblemsOf("broken/ipmi-password.yaml"),
            (std::vector<std::string>{
                "ipmi-password.yaml:22:21: machines[0].bmc.passwordFile: the password (file " + dir +
                    "long-ipmi.password) is 34 bytes; IPMI 2.0 allows at most 20",
            }));
}

TEST(ConfigValidation, MissingConfigFile) {
  auto problems = ProblemsOf("does-not-exist.yaml");
  EXPECT_EQ(problems, (std::vector<std::string>{"does-not-exist.yaml:0:0: config file does not exist"}));
}

}  // namespace
}  // namespace metalpxe

namespace metalpxe {
namespace {

TEST(ConfigValidation, Ipv6AddressAndDhcp6Subnets) {
  const auto problems = ProblemsOf("broken/ipv6.yaml");
  auto has = [&](const std::string& text) {
    for (const auto& p : problems)
      if (p == text) return true;
    return false;
  };
  EXPECT_TRUE(has("ipv6.yaml:3:13: server.address6: 'fe80::1' is not a global or unique-local IPv6 address "
                  "machines can reach"));
  EXPECT_TRUE(has("ipv6.yaml:9:15: dhcp6.subnets[0].subnet: 'fd00:66::1/64' is not an IPv6 prefix such as "
                  "fd00:66::/64 (/64 to /120, host bits zero)"));
  EXPECT_TRUE(has("ipv6.yaml:12:13: dhcp6.subnets[1].pool: fd00:68::10-fd00:68::20 is not inside subnet fd00:67::/64"));
  EXPECT_TRUE(has("ipv6.yaml:13:25: dhcp6.subnets[1].dns[1]: 'fd00:67::zz' is not an IPv6 address"));
  EXPECT_TRUE(has("ipv6.yaml:14:18: dhcp6.subnets[1].leaseTime: 'soon' is not a duration of at least 60s (e.g. 1h, "
                  "30m, 3600)"));
  EXPECT_TRUE(has("ipv6.yaml:21:15: dhcp6.subnets[5].subnet: fd00:70::/96 overlaps fd00:70::/64"));
  EXPECT_TRUE(has("ipv6.yaml:17:15: dhcp6.subnets[3].subnet: 'fd00:69::/56' is not an IPv6 prefix such as "
                  "fd00:66::/64 (/64 to /120, host bits zero)"));
  for (const auto& p : problems) EXPECT_EQ(p.find("subnets[2]"), std::string::npos) << p;  // a valid /80
  EXPECT_TRUE(has("ipv6.yaml:7:3: dhcp6.mode is full but server.address6 is not set: boot URLs need metalpxe's "
                  "IPv6 address"));
}

}  // namespace
}  // namespace metalpxe
