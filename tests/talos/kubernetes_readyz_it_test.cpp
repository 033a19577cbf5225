// `cluster status`'s Kubernetes check (daemon/kubernetes_readyz.h) against a
// real TLS server in the lab namespace: `openssl s_server -WWW` serving a
// file named readyz, with a server certificate issued from the fixture
// cluster's Kubernetes CA (cluster.ca of its controlplane.yaml, as `talosctl
// gen config` writes it). Ready when the CA verifies and /readyz answers
// 200; not ready, with the reason, for another cluster's CA or no server.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>

#include "core/x509_pem.h"
#include "daemon/kubernetes_readyz.h"
#include "tests/talos/talos_lab.h"

namespace metalpxe {
namespace {

using testing::RunCommand;
using testing::Subprocess;
using testing::TalosLab;
using testing::WaitFor;

std::string ControlPlaneOf(const std::string& cluster) { return TalosLab::Get().dir() + "/" + cluster + "/controlplane.yaml"; }

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

// A kube-apiserver stand-in at ip:6443 whose certificate is issued by
// `cluster`'s Kubernetes CA; /readyz answers "ok".
Subprocess StartApiServer(const std::string& ip, const std::string& cluster, const std::string& dir) {
  RunCommand({"mkdir", "-p", dir});
  const YAML::Node cp = YAML::LoadFile(ControlPlaneOf(cluster));
  auto ca_crt = DecodeBase64(cp["cluster"]["ca"]["crt"].as<std::string>());
  auto ca_key = DecodeBase64(cp["cluster"]["ca"]["key"].as<std::string>());
  EXPECT_TRUE(ca_crt.ok() && ca_key.ok());
  WriteText(dir + "/ca.crt", *ca_crt);
  WriteText(dir + "/ca.key", *ca_key);
  WriteText(dir + "/ext.cnf", "subjectAltName=IP:" + ip + "\n");
  WriteText(dir + "/readyz", "ok");
  const std::string script =
      "cd '" + dir + "' && "
      "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key "
      "-subj /CN=kube-apiserver -out srv.csr 2>/dev/null && "
      "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out srv.crt "
      "-extfile ext.cnf 2>/dev/null";
  auto made = RunCommand({"sh", "-c", script});
  EXPECT_EQ(made.exit_code, 0) << made.output;
  Subprocess server = Subprocess::Start(
      {"sh", "-c", "cd '" + dir + "' && exec openssl s_server -accept " + ip + ":6443 -cert srv.crt -key srv.key -WWW"},
      TalosLab::Get().netns());
  // Listening once a TCP connection is accepted (bounded).
  EXPECT_TRUE(WaitFor(
      [&] { return RunCommand({"bash", "-c", "exec 3<>/dev/tcp/" + ip + "/6443"}, std::chrono::seconds(2),
                          TalosLab::Get().netns()).exit_code == 0;
      },
      std::chrono::seconds(10)))
      << server.Describe();
  return server;
}

ClusterConfig ClusterAt(const std::string& ip, const std::string& cluster) {
  ClusterConfig c;
  c.name = "k-" + cluster;
  c.endpoint = "https://" + ip + ":6443";
  c.configs[Role::kControlPlane] = ControlPlaneOf(cluster);
  return c;
}

TEST(KubernetesReadyz, TheClusterCaVerifiesTheApiServerAndReadyzAnswers) {
  const std::string dir = TalosLab::Get().tmp() + "/apiserver-a";
  Subprocess server = StartApiServer("127.0.0.41", "cluster-a", dir);
  const ReadyzAnswer a = ProbeKubernetesReadyz(ClusterAt("127.0.0.41", "cluster-a"), TalosLab::Get().tmp(),
                                               std::chrono::seconds(5));
  EXPECT_TRUE(a.ready) << a.detail << "\n" << server.Describe();
  EXPECT_EQ(a.detail, "ok");
  // The CA went where the status says, and it is the one from controlplane.yaml.
  std::ifstream ca(TalosLab::Get().tmp() + "/clusters/k-cluster-a/kubernetes-ca.crt");
  std::string pem((std::istreambuf_iterator<char>(ca)), std::istreambuf_iterator<char>());
  EXPECT_EQ(pem, *KubernetesCaOf(ControlPlaneOf("cluster-a")));
}

TEST(KubernetesReadyz, AnotherClustersCertificateIsNotReady) {
  const std::string dir = TalosLab::Get().tmp() + "/apiserver-b";
  Subprocess server = StartApiServer("127.0.0.42", "cluster-b", dir);
  const ReadyzAnswer a = ProbeKubernetesReadyz(ClusterAt("127.0.0.42", "cluster-a"), TalosLab::Get().tmp(),
                                               std::chrono::seconds(5));
  EXPECT_FALSE(a.ready);
  EXPECT_NE(a.detail.find("https://127.0.0.42:6443/readyz: "), std::string::npos) << a.detail;
  std::printf("    reason: %s\n", a.detail.c_str());
}

TEST(KubernetesReadyz, NoServerIsNotReadyWithTheReason) {
  const ReadyzAnswer a = ProbeKubernetesReadyz(ClusterAt("127.0.0.43", "cluster-a"), TalosLab::Get().tmp(),
                                               std::chrono::seconds(3));
  EXPECT_FALSE(a.ready);
  EXPECT_NE(a.detail.find("127.0.0.43"), std::string::npos) << a.detail;
  std::printf("    reason: %s\n", a.detail.c_str());
  ClusterConfig none;
  none.name = "empty";
  EXPECT_EQ(ProbeKubernetesReadyz(none, TalosLab::Get().tmp(), std::chrono::seconds(1)).detail,
            "no Kubernetes endpoint configured");
}

}  // namespace
}  // namespace metalpxe
