// The real metalpxectl binary against a live ManagementServer (mutual TLS,
// fake backend): every command in table, json and yaml output.
#include <sys/stat.h>

#include <sstream>

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "tests/management/mgmt_fixture.h"

namespace metalpxe::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

nlohmann::json Json(const CommandResult& r) {
  try {
    return nlohmann::json::parse(r.output);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON: " << e.what() << "\n" << r.output;
    return nullptr;
  }
}

YAML::Node Yaml(const CommandResult& r) {
  try {
    return YAML::Load(r.output);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not YAML: " << e.what() << "\n" << r.output;
    return {};
  }
}

// ---- table (default) -------------------------------------------------------

using MgmtCliTable = LiveServer;

TEST_F(MgmtCliTable, MachinesListsBothWithHeaders) {
  for (auto args : {std::vector<std::string>{"machines"}, std::vector<std::string>{"machines", "list"}}) {
    auto r = Ctl(args);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("NAME"));
    EXPECT_THAT(r.output, HasSubstr("STATE"));
    EXPECT_THAT(r.output, HasSubstr("LAST SEEN"));
    EXPECT_THAT(r.output, HasSubstr("node-a"));
    EXPECT_THAT(r.output, HasSubstr("52:54:00:00:00:0d"));
    EXPECT_THAT(r.output, HasSubstr("discovered"));
  }
  // Columns line up: "STATE" starts where node-a's state starts.
  auto r = Ctl({"machines"});
  std::istringstream lines(r.output);
  std::string header, row;
  std::getline(lines, header);
  std::getline(lines, row);
  EXPECT_EQ(header.find("STATE"), row.find("installed")) << r.output;
}

TEST_F(MgmtCliTable, GetAcceptReinstallExport) {
  auto get = Ctl({"get", "node-a"});
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_THAT(get.output, HasSubstr("controlplane"));

  auto accept = Ctl({"accept", "52:54:00:00:00:0d", "--name", "node-b", "--role", "worker", "--profile", "default",
                     "--install-disk", "/dev/nvme0n1"});
  ASSERT_EQ(accept.exit_code, 0) << accept.output;
  EXPECT_THAT(accept.output, HasSubstr("node-b"));
  EXPECT_THAT(accept.output, HasSubstr("pending-install"));
  EXPECT_TRUE(Contains(backend_.calls(), "accept 52:54:00:00:00:0d node-b worker default /dev/nvme0n1"));

  auto again = Ctl({"accept", "52:54:00:00:00:0d", "--name", "node-c", "--role", "worker"});
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_THAT(again.output, HasSubstr("already"));

  auto exported = Ctl({"machines", "export"});
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  auto inv = YAML::Load(exported.output);
  ASSERT_TRUE(inv["machines"].IsSequence()) << exported.output;
  EXPECT_EQ(inv["machines"][0]["name"].as<std::string>(), "node-b");

  auto re = Ctl({"reinstall", "node-a", "--wipe"});
  ASSERT_EQ(re.exit_code, 0) << re.output;
  EXPECT_THAT(re.output, HasSubstr("reinstall-requested"));
  EXPECT_TRUE(Contains(backend_.calls(), "reinstall node-a wipe"));
  ASSERT_EQ(Ctl({"reinstall", "node-b"}).exit_code, 0);
  EXPECT_TRUE(Contains(backend_.calls(), "reinstall node-b"));
}

TEST_F(MgmtCliTable, PowerEveryAction) {
  for (auto [action, state, recorded] : {std::tuple{"on", "on", "ON"}, std::tuple{"off", "off", "OFF"},
                                         std::tuple{"cycle", "on", "CYCLE"}, std::tuple{"status", "on", "STATUS"}}) {
    auto r = Ctl({"power", action, "node-a"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("POWER"));
    EXPECT_THAT(r.output, ::testing::ContainsRegex(std::string("node-a +") + state + "\n"));
    EXPECT_TRUE(Contains(backend_.calls(), std::string("power node-a ") + recorded));
  }
  auto bad = Ctl({"power", "explode", "node-a"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

TEST_F(MgmtCliTable, LogsEventsLeasesImagesVersionHealth) {
  auto logs = Ctl({"logs", "node-a"});
  ASSERT_EQ(logs.exit_code, 0) << logs.output;
  EXPECT_THAT(logs.output, HasSubstr("kern.info boot line 0"));
  EXPECT_THAT(logs.output, HasSubstr("boot line 2"));
  auto tail = Ctl({"logs", "node-a", "--tail", "1"});
  EXPECT_THAT(tail.output, Not(HasSubstr("boot line 1")));
  EXPECT_THAT(tail.output, HasSubstr("boot line 2"));

  auto events = Ctl({"events"});
  ASSERT_EQ(events.exit_code, 0) << events.output;
  EXPECT_THAT(events.output, HasSubstr("TIME"));
  EXPECT_THAT(events.output, HasSubstr("installed to /dev/sda"));
  EXPECT_THAT(events.output, HasSubstr("new machine 52:54:00:00:00:0d"));
  auto recent = Ctl({"events", "--since", "1m"});
  EXPECT_THAT(recent.output, Not(HasSubstr("installed to /dev/sda")));  // ten minutes old
  auto by_machine = Ctl({"events", "--machine", "node-a"});
  EXPECT_THAT(by_machine.output, HasSubstr("offered 10.66.0.10"));
  EXPECT_THAT(by_machine.output, Not(HasSubstr("new machine")));
  EXPECT_EQ(Ctl({"events", "--since", "yesterday"}).exit_code, 2);

  auto leases = Ctl({"leases"});
  ASSERT_EQ(leases.exit_code, 0) << leases.output;
  EXPECT_THAT(leases.output, HasSubstr("HOSTNAME"));
  EXPECT_THAT(leases.output, HasSubstr("10.66.0.101"));
  EXPECT_THAT(leases.output, HasSubstr("talos-abc"));

  auto images = Ctl({"images", "list"});
  ASSERT_EQ(images.exit_code, 0) << images.output;
  EXPECT_THAT(images.output, HasSubstr("PROFILE"));
  EXPECT_THAT(images.output, HasSubstr("kernel missing"));

  // Not a terminal: plain progress lines, then the result.
  auto pull = Ctl({"images", "pull", "default"});
  ASSERT_EQ(pull.exit_code, 0) << pull.output;
  EXPECT_THAT(pull.output, HasSubstr("vmlinuz"));
  EXPECT_THAT(pull.output, HasSubstr("initramfs.xz 4194304/4194304 bytes"));
  EXPECT_THAT(pull.output, HasSubstr("boot assets ready"));
  EXPECT_THAT(pull.output, Not(HasSubstr("\r")));
  auto pull_missing = Ctl({"images", "pull", "nope"});
  EXPECT_EQ(pull_missing.exit_code, 1);
  EXPECT_THAT(pull_missing.output, HasSubstr("profile nope not found"));

  auto version = Ctl({"version"});
  ASSERT_EQ(version.exit_code, 0) << version.output;
  EXPECT_THAT(version.output, HasSubstr("Server: 0.1.0-test"));
  auto health = Ctl({"health"});
  ASSERT_EQ(health.exit_code, 0) << health.output;
  EXPECT_THAT(health.output, HasSubstr("SERVING"));
  EXPECT_THAT(health.output, HasSubstr("yes"));
}

TEST_F(MgmtCliTable, TimelineOfAMachineByNameOrMacInEveryFormat) {
  auto t = Ctl({"timeline", "node-a"});
  ASSERT_EQ(t.exit_code, 0) << t.output;
  EXPECT_THAT(t.output, HasSubstr("SOURCE"));
  EXPECT_THAT(t.output, HasSubstr("dhcp     DHCP DISCOVER from firmware (uefi-x86_64) -> OFFER 10.66.0.10"));
  EXPECT_THAT(t.output, HasSubstr("tftp     TFTP snponly.efi sent"));
  // Oldest first.
  EXPECT_LT(t.output.find("DHCP DISCOVER"), t.output.find("HTTP GET /ipxe"));
  auto by_mac = Ctl({"timeline", "52:54:00:00:00:0a", "--limit", "1"});
  ASSERT_EQ(by_mac.exit_code, 0) << by_mac.output;
  EXPECT_THAT(by_mac.output, HasSubstr("HTTP GET /ipxe"));
  EXPECT_THAT(by_mac.output, Not(HasSubstr("DHCP DISCOVER")));
  auto json = Json(Ctl({"-o", "json", "timeline", "node-a"}));
  EXPECT_EQ(json["machine"], "node-a");
  EXPECT_EQ(json["mac"], "52:54:00:00:00:0a");
  ASSERT_EQ(json["entries"].size(), 3u);
  EXPECT_EQ(json["entries"][1]["source"], "tftp");
  EXPECT_TRUE(json["entries"][0]["timeUnixMs"].is_number());
  auto yaml = Yaml(Ctl({"-o", "yaml", "timeline", "node-a"}));
  EXPECT_EQ(yaml["entries"][2]["source"].as<std::string>(), "http");
  auto ghost = Ctl({"timeline", "ghost"});
  EXPECT_EQ(ghost.exit_code, 1);
  EXPECT_THAT(ghost.output, HasSubstr("ghost"));
  EXPECT_EQ(Ctl({"timeline"}).exit_code, 2);
}

// ---- json ------------------------------------------------------------------

TEST_F(MgmtCliTable, UpgradePrintsProgressLinesAndFailsWithTheReason) {
  auto up = Ctl({"upgrade", "lab", "--to", "v1.9.6"});
  ASSERT_EQ(up.exit_code, 0) << up.output;
  const std::string image = "factory.talos.dev/installer/" + std::string(64, 'a') + ":v1.9.6";
  // The documented lines (docs/operations.md), in order.
  EXPECT_THAT(up.output, HasSubstr("plan: node-w, node-a\n"
                                   "upgrading node-w: " + image + "\n"
                                   "waiting node-w: node-w:50000: connection refused\n"
                                   "upgraded node-w: answers v1.9.6 after 41 s\n"
                                   "upgrading node-a: " + image + "\n"));
  EXPECT_THAT(up.output, HasSubstr("done: cluster lab runs v1.9.6\n"));

  auto json = Ctl({"-o", "json", "upgrade", "lab", "--to", "v1.9.6"});
  ASSERT_EQ(json.exit_code, 0) << json.output;
  std::vector<nlohmann::json> lines;
  std::istringstream in(json.output);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '{') lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 8u) << json.output;
  EXPECT_EQ(lines.front()["phase"], "plan");
  EXPECT_EQ(lines[1]["phase"], "upgrading");
  EXPECT_EQ(lines[1]["node"], "node-w");
  EXPECT_EQ(lines[1]["message"], image);
  EXPECT_EQ(lines.back()["phase"], "done");

  auto failed = Ctl({"upgrade", "lab", "--to", "v1.9.7"});
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_THAT(failed.output, HasSubstr("failed: node-w refused the upgrade: "));
  EXPECT_THAT(failed.output, HasSubstr("error: cannot do that now: node-w refused the upgrade: "));
  auto unknown = Ctl({"upgrade", "nope", "--to", "v1.9.6"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.output;
  EXPECT_THAT(unknown.output, HasSubstr("no cluster nope"));
  EXPECT_EQ(Ctl({"upgrade", "lab"}).exit_code, 2) << "--to is required";
}

TEST_F(MgmtCliTable, ClustersStatusAndCredentials) {
  auto list = Ctl({"clusters"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr("BOOTSTRAP"));
  EXPECT_THAT(list.output, HasSubstr("lab"));
  EXPECT_THAT(list.output, HasSubstr("bootstrapped"));
  EXPECT_THAT(list.output, HasSubstr("1 installed, 1 running"));

  auto status = Ctl({"cluster", "status", "lab"});
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_THAT(status.output, HasSubstr("Bootstrap:   bootstrapped (auto) on node-a, 3 call(s)"));
  EXPECT_THAT(status.output, HasSubstr("Kubernetes:  not ready"));
  EXPECT_THAT(status.output, HasSubstr("000000001234abcd"));
  EXPECT_THAT(status.output, HasSubstr("https://10.66.0.10:2380"));
  EXPECT_THAT(status.output, HasSubstr("TALOS"));   // the version each node last answered
  EXPECT_THAT(status.output, HasSubstr("v1.9.5"));
  auto json = Ctl({"-o", "json", "cluster", "status", "lab"});
  ASSERT_EQ(json.exit_code, 0) << json.output;
  EXPECT_EQ(Json(json)["cluster"]["bootstrap"], "bootstrapped");
  auto unknown = Ctl({"cluster", "status", "nope"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.output;
  EXPECT_THAT(unknown.output, HasSubstr("no cluster nope"));

  // The kubeconfig to stdout, as it is, whatever -o says.
  for (auto args : {std::vector<std::string>{"kubeconfig", "lab"},
                    std::vector<std::string>{"-o", "json", "kubeconfig", "lab"}}) {
    auto kube = Ctl(args);
    ASSERT_EQ(kube.exit_code, 0) << kube.output;
    EXPECT_THAT(kube.output, HasSubstr("kind: Config\n"));
  }
  // To a file, private.
  const std::string path = state_.path() + "/kubeconfig";
  auto to_file = Ctl({"kubeconfig", "lab", path});
  ASSERT_EQ(to_file.exit_code, 0) << to_file.output;
  EXPECT_THAT(to_file.output, Not(HasSubstr("kind: Config")));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto talos = Ctl({"talosconfig", "lab"});
  ASSERT_EQ(talos.exit_code, 0) << talos.output;
  EXPECT_THAT(talos.output, HasSubstr("context: lab"));
  EXPECT_EQ(Ctl({"kubeconfig"}).exit_code, 2);
}

using MgmtCliJson = LiveServer;

TEST_F(MgmtCliJson, EveryCommand) {
  auto machines = Json(Ctl({"-o", "json", "machines"}));
  ASSERT_TRUE(machines.is_array());
  ASSERT_EQ(machines.size(), 2u);
  EXPECT_EQ(machines[0]["name"], "node-a");
  EXPECT_EQ(machines[0]["macs"][0], "52:54:00:00:00:0a");
  EXPECT_EQ(machines[0]["bmcType"], "ipmi");  // camelCase, like the config
  EXPECT_TRUE(machines[0]["lastSeenUnix"].is_number());

  auto get = Json(Ctl({"get", "52:54:00:00:00:0a", "-o", "json"}));  // -o after the subcommand works too
  EXPECT_EQ(get["name"], "node-a");

  auto accepted = Json(Ctl({"-o", "json", "accept", "52:54:00:00:00:0d", "--name", "node-b", "--role", "worker"}));
  EXPECT_EQ(accepted["name"], "node-b");
  EXPECT_EQ(accepted["state"], "pending-install");
  auto re = Json(Ctl({"-o", "json", "reinstall", "node-b"}));
  EXPECT_EQ(re["state"], "reinstall-requested");
  auto power = Json(Ctl({"-o", "json", "power", "off", "node-a"}));
  EXPECT_EQ(power["powerState"], "off");
  EXPECT_EQ(power["machine"], "node-a");

  // Streams print one JSON object per line.
  auto logs = Ctl({"-o", "json", "logs", "node-a"});
  ASSERT_EQ(logs.exit_code, 0) << logs.output;
  std::istringstream log_lines(logs.output);
  std::string line;
  int n = 0;
  while (std::getline(log_lines, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["facility"], "kern");
    ++n;
  }
  EXPECT_EQ(n, 3);
  auto events = Ctl({"-o", "json", "events"});
  std::istringstream ev_lines(events.output);
  std::getline(ev_lines, line);
  EXPECT_EQ(nlohmann::json::parse(line)["kind"], "dhcp");

  auto leases = Json(Ctl({"-o", "json", "leases"}));
  EXPECT_EQ(leases[0]["mac"], "52:54:00:00:00:0d");
  auto images = Json(Ctl({"-o", "json", "images", "list"}));
  EXPECT_EQ(images[0]["ready"], true);
  EXPECT_EQ(images[1]["error"], "kernel missing");
  auto pull = Ctl({"-o", "json", "images", "pull", "default"});
  ASSERT_EQ(pull.exit_code, 0) << pull.output;
  std::istringstream pull_lines(pull.output);
  nlohmann::json last;
  while (std::getline(pull_lines, line)) last = nlohmann::json::parse(line);
  EXPECT_EQ(last["done"], true);

  auto version = Json(Ctl({"-o", "json", "version"}));
  EXPECT_EQ(version["server"], "0.1.0-test");
  EXPECT_EQ(version["client"], "0.1.0");
  auto health = Json(Ctl({"-o", "json", "health"}));
  EXPECT_EQ(health["serving"], true);
  EXPECT_TRUE(health["problems"].is_array());
}

// ---- yaml ------------------------------------------------------------------

using MgmtCliYaml = LiveServer;

TEST_F(MgmtCliYaml, EveryCommand) {
  auto machines = Yaml(Ctl({"-o", "yaml", "machines"}));
  ASSERT_TRUE(machines.IsSequence());
  EXPECT_EQ(machines[1]["state"].as<std::string>(), "discovered");
  EXPECT_EQ(machines[1]["vendorClass"].as<std::string>(), "PXEClient:Arch:00007");

  EXPECT_EQ(Yaml(Ctl({"-o", "yaml", "get", "node-a"}))["role"].as<std::string>(), "controlplane");
  auto accepted = Yaml(Ctl({"-o", "yaml", "accept", "52:54:00:00:00:0d", "--name", "node-b", "--role", "worker"}));
  EXPECT_EQ(accepted["role"].as<std::string>(), "worker");
  EXPECT_EQ(Yaml(Ctl({"-o", "yaml", "reinstall", "node-a"}))["state"].as<std::string>(), "reinstall-requested");
  EXPECT_EQ(Yaml(Ctl({"-o", "yaml", "power", "status", "node-a"}))["powerState"].as<std::string>(), "on");

  // Streams: one YAML document per item.
  auto logs = YAML::LoadAll(Ctl({"-o", "yaml", "logs", "node-a"}).output);
  ASSERT_EQ(logs.size(), 3u);
  EXPECT_EQ(logs[2]["message"].as<std::string>(), "boot line 2");
  auto events = YAML::LoadAll(Ctl({"-o", "yaml", "events"}).output);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1]["message"].as<std::string>(), "installed to /dev/sda");
  auto pull = YAML::LoadAll(Ctl({"-o", "yaml", "images", "pull", "default"}).output);
  ASSERT_FALSE(pull.empty());
  EXPECT_TRUE(pull.back()["done"].as<bool>());

  EXPECT_EQ(Yaml(Ctl({"-o", "yaml", "leases"}))[0]["hostname"].as<std::string>(), "talos-abc");
  EXPECT_EQ(Yaml(Ctl({"-o", "yaml", "images", "list"}))[0]["profile"].as<std::string>(), "default");
  EXPECT_EQ(Yaml(Ctl({"-o", "yaml", "version"}))["server"].as<std::string>(), "0.1.0-test");
  EXPECT_TRUE(Yaml(Ctl({"-o", "yaml", "health"}))["serving"].as<bool>());
}

// ---- errors that say what to do -------------------------------------------

using MgmtCliErrors = LiveServer;

TEST_F(MgmtCliErrors, MachineNotFound) {
  for (auto args : {std::vector<std::string>{"get", "ghost"}, std::vector<std::string>{"power", "on", "ghost"},
                    std::vector<std::string>{"reinstall", "ghost"}, std::vector<std::string>{"logs", "ghost"}}) {
    auto r = Ctl(args);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_THAT(r.output, HasSubstr("machine ghost not found: `metalpxectl machines` lists them"));
  }
}

TEST_F(MgmtCliErrors, UsageErrorsExitTwo) {
  EXPECT_EQ(Ctl({}).exit_code, 2);
  EXPECT_EQ(Ctl({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Ctl({"get"}).exit_code, 2);
  EXPECT_EQ(Ctl({"accept", "52:54:00:00:00:0d", "--name", "x", "--role", "king"}).exit_code, 2);
  EXPECT_EQ(Ctl({"-o", "xml", "machines"}).exit_code, 2);
  EXPECT_EQ(Ctl({"--help"}).exit_code, 0);
}

TEST_F(MgmtCliErrors, MissingConfigSaysWhereToGetOne) {
  auto r = RunCommand({CtlPath(), "--config", state_.path() + "/nope", "machines"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("admin.metalpxeconfig"));
}

TEST_F(MgmtCliErrors, ConfigFromEnvironment) {
  auto r = RunCommand({"env", "METALPXECONFIG=" + config_, CtlPath(), "version"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("0.1.0-test"));
}

TEST_F(MgmtCliErrors, UnreachableEndpoint) {
  // The server's port, once the server is gone: nothing listens there.
  server_->Shutdown();
  auto r = Ctl({"machines"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cannot reach metalpxed at " + endpoint_ +
                                  ": is it running, and is apiListen reachable from here?"));
}

// The daemon answered (the connection is fine) that the BMC did not: the
// user reads the BMC's reason, not a word about certificates.
TEST_F(MgmtCliErrors, PowerOnABmcThatDoesNotAnswerSaysSo) {
  backend_.SetPowerFailure(Status(ErrorCode::kUnavailable,
                                  "IPMI session to 10.88.0.9 (cipher suite 3): connection timeout"));
  auto r = Ctl({"power", "status", "node-a"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("error: node-a: IPMI session to 10.88.0.9 (cipher suite 3): connection timeout"));
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr("certificate")));
}

TEST_F(MgmtCliErrors, EndpointOverride) {
  auto wrong = WriteConfigFor(pki_, "127.0.0.1:1", state_.path() + "/wrong.metalpxeconfig");
  auto r = RunCommand({CtlPath(), "--config", wrong, "--endpoint", endpoint_, "version"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace metalpxe::testing
