// The status page's cluster section (ui/ui_clusters.h): its JSON holds the
// allow-listed fields only, and the prober asks the backend for the slow
// facts only while a page is open, at its interval, or once when asked.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "tests/management/fake_backend.h"
#include "ui/ui_clusters.h"

namespace metalpxe::ui {
namespace {

using nlohmann::json;

std::set<std::string> KeysOf(const json& object) {
  std::set<std::string> keys;
  for (const auto& [k, v] : object.items()) keys.insert(k);
  return keys;
}

template <typename Pred>
bool WaitUntil(Pred pred, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

TEST(ui_clusters, NodesAndBootstrapBeforeAnyProbeAllowListedFieldsOnly) {
  testing::FakeBackend backend;
  const json out = UiClustersJson(backend.ListClusters(), {});
  ASSERT_EQ(out["clusters"].size(), 1u);
  const json& c = out["clusters"][0];
  EXPECT_EQ(KeysOf(c), (std::set<std::string>{"name", "endpoint", "bootstrapMode", "bootstrap", "bootstrapNode",
                                              "bootstrapReason", "bootstrapAttempts", "bootstrapChangedUnix", "nodes",
                                              "nodesByState", "checked"}));
  EXPECT_EQ(c["name"], "lab");
  EXPECT_EQ(c["bootstrap"], "bootstrapped");
  EXPECT_EQ(c["bootstrapNode"], "node-a");
  EXPECT_EQ(c["bootstrapAttempts"], 3);
  EXPECT_FALSE(c["checked"].get<bool>());
  ASSERT_FALSE(c["nodes"].empty());
  for (const auto& n : c["nodes"])
    EXPECT_EQ(KeysOf(n), (std::set<std::string>{"name", "role", "state", "ip", "talosVersion"}));
  int counted = 0;
  for (const auto& [state, n] : c["nodesByState"].items()) counted += n.get<int>();
  EXPECT_EQ(counted, static_cast<int>(c["nodes"].size()));
}

TEST(ui_clusters, AProbeAddsEtcdAndKubernetesAndAFailedCallSaysWhy) {
  testing::FakeBackend backend;
  auto status = backend.GetClusterStatus("lab");
  ASSERT_TRUE(status.ok());
  std::map<std::string, UiClusterProbe> probes{{"lab", UiClusterProbeOf(*status, 1234)}};
  json c = UiClustersJson(backend.ListClusters(), probes)["clusters"][0];
  EXPECT_TRUE(c["checked"].get<bool>());
  EXPECT_EQ(c["checkedUnixMs"], 1234);
  EXPECT_FALSE(c["kubernetesReady"].get<bool>());
  EXPECT_EQ(c["kubernetesDetail"], "https://10.66.0.10:6443/readyz: connection refused");
  ASSERT_EQ(c["etcdMembers"].size(), 1u);
  const json& m = c["etcdMembers"][0];
  EXPECT_EQ(KeysOf(m), (std::set<std::string>{"id", "hostname", "peerUrls", "clientUrls", "learner"}));
  EXPECT_EQ(m["id"], "000000001234abcd");  // as `metalpxectl cluster status` prints it
  EXPECT_EQ(m["peerUrls"], json::array({"https://10.66.0.10:2380"}));
  EXPECT_FALSE(m["learner"].get<bool>());
  EXPECT_EQ(c["statusError"], "");

  UiClusterProbe failed;
  failed.status_error = "no cluster lab";
  c = UiClustersJson(backend.ListClusters(), {{"lab", failed}})["clusters"][0];
  EXPECT_EQ(c["statusError"], "no cluster lab");
  EXPECT_TRUE(c["etcdMembers"].empty());
}

TEST(ui_clusters, ProberAsksOnlyWhileWatchedOrAskedAndStopsPromptly) {
  testing::FakeBackend backend;
  std::atomic<int> rounds{0};
  std::mutex mu;
  std::map<std::string, UiClusterProbe> last;
  UiClusterProber prober(backend, std::chrono::milliseconds(100), [&](std::map<std::string, UiClusterProbe> p) {
    std::lock_guard lock(mu);
    last = std::move(p);
    ++rounds;
  });
  prober.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(rounds.load(), 0) << "no page open: no calls to the cluster";

  prober.SetWatched(true);
  EXPECT_TRUE(WaitUntil([&] { return rounds.load() >= 3; }, std::chrono::seconds(5))) << rounds.load();
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(last.count("lab"), 1u);
    EXPECT_EQ(last["lab"].etcd_members.size(), 1u);
    EXPECT_GT(last["lab"].checked_unix_ms, 0);
  }
  prober.SetWatched(false);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // a round under way may finish
  const int idle = rounds.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(rounds.load(), idle) << "the page closed: no more calls";

  // A page opening asks once (not more often than once a second).
  prober.ProbeSoon();
  EXPECT_TRUE(WaitUntil([&] { return rounds.load() == idle + 1; }, std::chrono::seconds(3))) << rounds.load();
  prober.ProbeSoon();
  prober.ProbeSoon();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(rounds.load(), idle + 1) << "requests within a second are absorbed";
  EXPECT_TRUE(WaitUntil([&] { return rounds.load() == idle + 2; }, std::chrono::seconds(3))) << rounds.load();

  const auto before = std::chrono::steady_clock::now();
  prober.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(1));
}

}  // namespace
}  // namespace metalpxe::ui
