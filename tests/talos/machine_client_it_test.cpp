// metalpxe's Talos machine API client against the stand-in apid (a real
// gRPC server with Talos's TLS, roles and answers, run as its own process in
// the lab namespace), with fixtures shaped like `talosctl gen config`
// output: Ed25519 CA and client keys under "ED25519 PRIVATE KEY". Every
// failure mode the client reports is provoked here: not ready, refused
// certificates (wrong CA, none, a reader's role), unreachable, silent,
// already bootstrapped, kubeconfig before bootstrap, maintenance apply.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/unique_fd.h"
#include "core/x509_pem.h"
#include "talos/machine_client.h"
#include "tests/talos/talos_lab.h"

namespace metalpxe::talos {
namespace {

using testing::Subprocess;
using testing::TalosLab;
using testing::WaitFor;

// The reason as an operator would read it, in the test log.
void Show(const CallError& e) { std::printf("    reason (%s): %s\n", std::string(CallFailureName(e.failure)).c_str(), e.message.c_str()); }

std::string Fixture(const std::string& path) { return TalosLab::Get().dir() + "/" + path; }

// A running control plane of cluster-a at `ip`:50000.
Subprocess StartNode(const std::string& ip, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"--listen", ip + ":50000", "--address", ip, "--config",
                                Fixture("cluster-a/controlplane.yaml")};
  args.insert(args.end(), extra.begin(), extra.end());
  return TalosLab::Get().StartApid(args);
}

MachineClient Admin(const std::string& ip, const std::string& cluster = "cluster-a",
                    const std::string& talosconfig = "talosconfig") {
  auto c = MachineClient::Connect(ip, kApidPort, TalosLab::Get().Credentials(cluster, talosconfig));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return std::move(*c);
}

TEST(TalosMachineClient, VersionOverMutualTlsWithTalosctlKeys) {
  Subprocess node = StartNode("127.0.0.2");
  auto v = Admin("127.0.0.2").Version();
  ASSERT_TRUE(v.ok()) << v.error().message << "\n" << node.Describe();
  EXPECT_EQ(v->tag, "v1.9.5");
  EXPECT_EQ(v->platform, "metal");
  EXPECT_EQ(v->arch, "amd64");
}

TEST(TalosMachineClient, BootstrapNotReadyThenOnceThenAlreadyDone) {
  Subprocess node = StartNode("127.0.0.3", {"--not-ready-bootstraps", "2"});
  MachineClient c = Admin("127.0.0.3");
  auto first = c.Bootstrap();
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().failure, CallFailure::kNotReady) << first.error().message;
  EXPECT_TRUE(first.error().retryable());
  EXPECT_NE(first.error().message.find("bootstrap is not available yet"), std::string::npos);
  Show(first.error());
  auto second = c.Bootstrap();
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("time is not in sync yet"), std::string::npos);
  auto third = c.Bootstrap();
  ASSERT_TRUE(third.ok()) << third.error().message;
  EXPECT_EQ(*third, BootstrapOutcome::kBootstrapped);
  auto fourth = c.Bootstrap();
  ASSERT_TRUE(fourth.ok()) << fourth.error().message;
  EXPECT_EQ(*fourth, BootstrapOutcome::kAlreadyBootstrapped);
}

TEST(TalosMachineClient, KubeconfigOnlyAfterBootstrapAndFromTheClusterCa) {
  Subprocess node = StartNode("127.0.0.4", {"--not-ready-bootstraps", "0"});
  MachineClient c = Admin("127.0.0.4");
  auto before = c.Kubeconfig();
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.error().failure, CallFailure::kNotReady) << before.error().message;
  ASSERT_TRUE(c.Bootstrap().ok());
  auto kubeconfig = c.Kubeconfig();
  ASSERT_TRUE(kubeconfig.ok()) << kubeconfig.error().message;
  const std::string& yaml = kubeconfig->Reveal();
  EXPECT_NE(yaml.find("server: https://127.0.0.2:6443"), std::string::npos) << "endpoint of gen config";
  EXPECT_NE(yaml.find("client-key-data: "), std::string::npos);
  // The CA in it is the cluster's Kubernetes CA (cluster.ca.crt of controlplane.yaml).
  const auto ca_at = yaml.find("certificate-authority-data: ") + std::string("certificate-authority-data: ").size();
  auto ca_pem = DecodeBase64(yaml.substr(ca_at, yaml.find('\n', ca_at) - ca_at));
  ASSERT_TRUE(ca_pem.ok());
  auto orgs = CertificateOrganizations(*ca_pem);
  ASSERT_TRUE(orgs.ok());
  EXPECT_EQ(*orgs, std::vector<std::string>{"kubernetes"});
}

TEST(TalosMachineClient, EtcdMembersAndEvents) {
  Subprocess node = StartNode("127.0.0.5", {"--not-ready-bootstraps", "0"});
  MachineClient c = Admin("127.0.0.5");
  auto none = c.EtcdMemberList();
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(none.error().retryable()) << none.error().message;
  ASSERT_TRUE(c.Bootstrap().ok());
  auto members = c.EtcdMemberList();
  ASSERT_TRUE(members.ok()) << members.error().message;
  ASSERT_EQ(members->size(), 1u);
  EXPECT_EQ(members->front().peer_urls, std::vector<std::string>{"https://127.0.0.5:2380"});

  // Replays what happened (tail -1: all), stops at the stage we wait for.
  std::vector<TalosEvent> seen;
  EventsOptions tail_all;
  tail_all.tail_events = -1;
  auto n = c.Events(tail_all, [&](const TalosEvent& e) {
    seen.push_back(e);
    return !(e.type == kTalosServiceStateEvent && e.name == "etcd");
  }, std::chrono::seconds(10));
  ASSERT_TRUE(n.ok()) << n.error().message;
  ASSERT_FALSE(seen.empty());
  bool running = false;
  for (const auto& e : seen) running |= e.type == kTalosMachineStatusEvent && e.stage == "RUNNING" && e.ready;
  EXPECT_TRUE(running) << "MachineStatusEvent RUNNING (ready) replayed";
  EXPECT_EQ(seen.back().action, "RUNNING");
  EXPECT_EQ(seen.back().id.size(), 20u) << "xid-shaped event ids";
}

TEST(TalosMachineClient, EventsCanBeCancelledFromAnotherThread) {
  Subprocess node = StartNode("127.0.0.6");
  MachineClient c = Admin("127.0.0.6");
  CancelToken cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel.Cancel();
  });
  const auto start = std::chrono::steady_clock::now();
  auto n = c.Events({}, [](const TalosEvent&) { return true; }, std::chrono::seconds(30), &cancel);
  canceller.join();
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20)) << "ended by the cancel";
}

TEST(TalosMachineClient, ReaderRoleMayReadButNotBootstrap) {
  Subprocess node = StartNode("127.0.0.7", {"--not-ready-bootstraps", "0"});
  MachineClient reader = Admin("127.0.0.7", "cluster-a", "talosconfig-reader");
  EXPECT_TRUE(reader.Version().ok());
  auto b = reader.Bootstrap();
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().failure, CallFailure::kNotAuthorized) << b.error().message;
  Show(b.error());
  EXPECT_FALSE(b.error().retryable());
  EXPECT_NE(b.error().message.find("not authorized"), std::string::npos);
  auto k = reader.Kubeconfig();
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.error().failure, CallFailure::kNotAuthorized);
  MachineClient operator_role = Admin("127.0.0.7", "cluster-a", "talosconfig-operator");
  auto u = operator_role.Upgrade("ghcr.io/siderolabs/installer:v1.10.0");
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().failure, CallFailure::kNotAuthorized);
  // And the reader's refusal did not bootstrap anything.
  auto admin = Admin("127.0.0.7").Bootstrap();
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(*admin, BootstrapOutcome::kBootstrapped);
}

TEST(TalosMachineClient, ANodeOfAnotherClusterIsRefused) {
  Subprocess node = StartNode("127.0.0.8");
  // cluster-b's CA did not sign this node's certificate.
  auto v = Admin("127.0.0.8", "cluster-b").Version();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().failure, CallFailure::kTlsRejected) << v.error().message;
  Show(v.error());
  EXPECT_FALSE(v.error().retryable());
  EXPECT_NE(v.error().message.find("the node's certificate is not signed by the cluster's CA"), std::string::npos)
      << v.error().message;
}

TEST(TalosMachineClient, NoClientCertificateIsRefused) {
  Subprocess node = StartNode("127.0.0.9");
  auto c = MachineClient::ConnectMaintenance("127.0.0.9", kApidPort);
  ASSERT_TRUE(c.ok());
  auto v = c->Version();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().failure, CallFailure::kTlsRejected) << v.error().message;
  EXPECT_NE(v.error().message.find("the node wants a client certificate"), std::string::npos) << v.error().message;
  Show(v.error());
  // A client certificate from another CA: refused by the node (and its own is not ours either).
  Subprocess b_node = TalosLab::Get().StartApid({"--listen", "127.0.0.14:50000", "--address", "127.0.0.14",
                                                 "--config", Fixture("cluster-b/controlplane.yaml")});
  auto mixed = TalosLab::Get().Credentials("cluster-a");
  mixed.ca_pem = TalosLab::Get().Credentials("cluster-b").ca_pem;  // trusts b's node, presents a's certificate
  auto client = MachineClient::Connect("127.0.0.14", kApidPort, mixed);
  ASSERT_TRUE(client.ok());
  auto refused = client->Version();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().failure, CallFailure::kTlsRejected) << refused.error().message;
  EXPECT_NE(refused.error().message.find("the node refused our client certificate"), std::string::npos)
      << refused.error().message;
  Show(refused.error());
}

TEST(TalosMachineClient, UnreachableNodeIsRetryable) {
  // Nothing listens there: the kernel refuses the connection.
  auto v = Admin("127.0.0.99").Version(std::chrono::seconds(5));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().failure, CallFailure::kUnreachable) << v.error().message;
  EXPECT_TRUE(v.error().retryable());
  EXPECT_NE(v.error().message.find("connection refused"), std::string::npos) << v.error().message;
  Show(v.error());
}

TEST(TalosMachineClient, SilentNodeEndsAtTheDeadline) {
  // Accepts TCP (the backlog does) but never speaks TLS.
  UniqueFd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(kApidPort);
  inet_pton(AF_INET, "127.0.0.10", &a.sin_addr);
  ASSERT_EQ(bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(s.get(), 8), 0);
  const auto start = std::chrono::steady_clock::now();
  auto v = Admin("127.0.0.10").Version(std::chrono::milliseconds(1500));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().failure, CallFailure::kDeadlineExceeded) << v.error().message;
  Show(v.error());
  EXPECT_TRUE(v.error().retryable());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << "the deadline bounds the call";
}

TEST(TalosMachineClient, MaintenanceModeTakesTheConfigThenRunsWithIt) {
  Subprocess node =
      TalosLab::Get().StartApid({"--listen", "127.0.0.11:50000", "--address", "127.0.0.11", "--maintenance",
                                 "--then-run", "--not-ready-bootstraps", "0"});
  auto m = MachineClient::ConnectMaintenance("127.0.0.11", kApidPort);
  ASSERT_TRUE(m.ok());
  // What Talos's maintenance API grants its anonymous "reader".
  ASSERT_TRUE(m->Version().ok());
  auto b = m->Bootstrap();
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().failure, CallFailure::kNotAuthorized) << b.error().message;
  auto e = m->EtcdMemberList();
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().failure, CallFailure::kNotSupported) << e.error().message;
  auto bad = m->ApplyConfiguration(Secret("not: [a machine config"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().failure, CallFailure::kInvalidArgument);

  std::ifstream in(Fixture("cluster-a/controlplane.yaml"));
  std::stringstream config;
  config << in.rdbuf();
  auto applied = m->ApplyConfiguration(Secret(config.str()));
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(applied->mode, "NO_REBOOT");
  // The node installs with it and comes back with mutual TLS from its machine.ca.
  MachineClient admin = Admin("127.0.0.11");
  ASSERT_TRUE(WaitFor([&] { return admin.Version(std::chrono::seconds(2)).ok(); }, std::chrono::seconds(20)))
      << node.Describe();
  auto bootstrapped = admin.Bootstrap();
  ASSERT_TRUE(bootstrapped.ok()) << bootstrapped.error().message;
}

TEST(TalosMachineClient, UpgradeRebootsIntoTheNewVersion) {
  // A reboot long enough that the first poll lands inside it even on a
  // loaded machine (500 ms was missed at load 17: the API was back first).
  Subprocess node = StartNode("127.0.0.12", {"--reboot-ms", "3000"});
  MachineClient c = Admin("127.0.0.12");
  auto refused = c.Upgrade("not-an-image");
  ASSERT_FALSE(refused.ok());
  // Talos pulls the image before it answers: only installer images that
  // exist (Sidero's, Image Factory's per schematic) with a release tag.
  const std::string id = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba";
  for (const std::string& missing : std::vector<std::string>
       {"factory.talos.dev/installer/" + id + ":latest", "factory.talos.dev/installer/" + id + ":v1.10",
        "factory.talos.dev/installer/ABC:v1.10.0", "docker.io/library/alpine:v1.10.0",
        "factory.talos.dev/not-an-installer/" + id + ":v1.10.0"}) {
    auto r = c.Upgrade(missing);
    ASSERT_FALSE(r.ok()) << missing;
    EXPECT_NE(r.error().message.find("error validating installer image"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(": not found"), std::string::npos) << r.error().message;
  }
  EXPECT_EQ(c.Version()->tag, "v1.9.5") << "nothing was installed";
  auto ack = c.Upgrade("factory.talos.dev/installer/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba:v1.10.0");
  ASSERT_TRUE(ack.ok()) << ack.error().message;
  EXPECT_EQ(*ack, "Upgrade request received");
  bool saw_down = false;
  ASSERT_TRUE(WaitFor([&] {
    auto v = c.Version(std::chrono::seconds(2));
    if (!v.ok()) saw_down |= v.error().retryable();
    return v.ok() && v->tag == "v1.10.0";
  }, std::chrono::seconds(30))) << node.Describe();
  EXPECT_TRUE(saw_down) << "the API went away during the reboot";
}

TEST(TalosMachineClient, AWorkerGetsItsCertificateFromTrustd) {
  // The fixtures' endpoint is https://127.0.0.2:6443: its control plane runs trustd on 50001.
  Subprocess cp = StartNode("127.0.0.2");
  Subprocess worker = TalosLab::Get().StartApid(
      {"--listen", "127.0.0.15:50000", "--address", "127.0.0.15", "--config", Fixture("cluster-a/worker.yaml")});
  MachineClient c = Admin("127.0.0.15");
  auto v = c.Version();
  ASSERT_TRUE(v.ok()) << v.error().message << "\n" << worker.Describe();
  EXPECT_NE(cp.Stdout().find("trustd signed a certificate"), std::string::npos) << cp.Describe();
  auto b = c.Bootstrap();
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().failure, CallFailure::kNotSupported) << b.error().message;
  Show(b.error());
}

TEST(TalosMachineClient, BootstrapIsRememberedAcrossARestart) {
  const std::string state = TalosLab::Get().tmp() + "/restart.state";
  {
    Subprocess node = StartNode("127.0.0.13", {"--state", state, "--not-ready-bootstraps", "0"});
    auto b = Admin("127.0.0.13").Bootstrap();
    ASSERT_TRUE(b.ok()) << b.error().message;
    EXPECT_EQ(*b, BootstrapOutcome::kBootstrapped);
  }
  Subprocess again = StartNode("127.0.0.13", {"--state", state, "--not-ready-bootstraps", "0"});
  MachineClient c = Admin("127.0.0.13");
  ASSERT_TRUE(WaitFor([&] { return c.Version(std::chrono::seconds(2)).ok(); }, std::chrono::seconds(20)));
  auto b = c.Bootstrap();
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(*b, BootstrapOutcome::kAlreadyBootstrapped);
}

}  // namespace
}  // namespace metalpxe::talos
