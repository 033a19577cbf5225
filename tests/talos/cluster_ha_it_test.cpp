// Two appliances on one real etcd (Debian's etcd-server, one member in the
// lab's network namespace) driving one cluster of stand-in apid nodes: each
// appliance is what metalpxed wires (daemon/appliance_modules.cpp) around its
// own etcd client and EtcdStore: provisioning service, cluster election
// (daemon/cluster_leadership.h), upgrade driver and cluster driver re-reading
// the shared records every round. Only the cluster's leader applies configs,
// bootstraps and runs upgrades; a config-apply target registered through the
// standby is applied once by the leader; when the leader stops in the middle
// of an upgrade the other appliance takes the cluster and finishes the run
// from the shared record without upgrading any node twice.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "core/cluster_upgrade.h"
#include "core/machine_registry.h"
#include "core/provisioning/provisioning_service.h"
#include "daemon/asio_scheduler.h"
#include "daemon/cluster_driver.h"
#include "daemon/cluster_leadership.h"
#include "daemon/cluster_upgrade_driver.h"
#include "etcd/etcd_store.h"
#include "talos/machine_client.h"
#include "tests/etcd/etcd_cluster.h"
#include "tests/talos/talos_lab.h"

namespace metalpxe {
namespace {

using testing::EtcdCluster;
using testing::EtcdClusterOptions;
using testing::Subprocess;
using testing::TalosLab;
using testing::WaitFor;

const std::string kSchematic = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba";

std::string Fixture(const std::string& path) { return TalosLab::Get().dir() + "/" + path; }

std::size_t CountOccurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

struct Node {
  std::string name;
  Role role;
  std::string ip;  // "" = none in the inventory (where the installer was served)
  std::string mac;
};
// cp-1 sits on the fixtures' endpoint host (127.0.0.2): the worker's trustd.
const Node kCp1{"cp-1", Role::kControlPlane, "127.0.0.2", "52:54:00:00:17:01"};
const Node kCp2{"cp-2", Role::kControlPlane, "127.0.0.52", "52:54:00:00:17:02"};
const Node kWk1{"wk-1", Role::kWorker, "127.0.0.53", "52:54:00:00:17:03"};

// A TCP relay in front of etcd for one appliance: cutting it leaves that
// appliance alive but unable to reach etcd, as a crashed (kill -9) or
// powered-off one is for the others, and shows it does not act meanwhile.
class TcpRelay {
 public:
  explicit TcpRelay(std::uint16_t to_port) : to_port_(to_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        listen(listen_fd_, 16) != 0 || getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("relay: cannot listen");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~TcpRelay() { Cut(); }
  std::uint16_t port() const { return port_; }
  // Every connection and the listener go, at once.
  void Cut() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (int fd : fds_) close(fd);
    fds_.clear();
    if (listen_fd_ >= 0) close(listen_fd_);
    listen_fd_ = -1;
  }

 private:
  void Loop() {
    std::vector<std::pair<int, int>> pairs;
    while (!stop_) {
      std::vector<pollfd> p{{listen_fd_, POLLIN, 0}};
      for (auto [x, y] : pairs) {
        p.push_back({x, POLLIN, 0});
        p.push_back({y, POLLIN, 0});
      }
      if (poll(p.data(), p.size(), 100) <= 0) continue;
      if (p[0].revents & POLLIN) {
        const int in = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        const int out = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(to_port_);
        if (in >= 0 && out >= 0 && connect(out, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
          pairs.emplace_back(in, out);
          fds_.push_back(in);
          fds_.push_back(out);
        } else {
          if (in >= 0) close(in);
          if (out >= 0) close(out);
        }
      }
      std::vector<std::pair<int, int>> alive;
      const std::size_t polled = (p.size() - 1) / 2;  // a pair accepted just now waits for the next poll
      for (std::size_t i = 0; i < pairs.size(); ++i) {
        if (i >= polled) {
          alive.push_back(pairs[i]);
          continue;
        }
        bool open = true;
        for (int side = 0; side < 2 && open; ++side) {
          if (!(p[1 + 2 * i + side].revents & (POLLIN | POLLHUP | POLLERR))) continue;
          const int from = side == 0 ? pairs[i].first : pairs[i].second;
          const int to = side == 0 ? pairs[i].second : pairs[i].first;
          char buf[65536];
          const ssize_t n = read(from, buf, sizeof buf);
          for (ssize_t off = 0; n > 0 && off < n;) {
            const ssize_t w = write(to, buf + off, static_cast<std::size_t>(n - off));
            if (w <= 0) break;
            off += w;
          }
          open = n > 0;
        }
        if (open) {
          alive.push_back(pairs[i]);
        } else {  // one side closed: the connection goes (gRPC dials again)
          close(pairs[i].first);
          close(pairs[i].second);
          std::erase(fds_, pairs[i].first);
          std::erase(fds_, pairs[i].second);
        }
      }
      pairs.swap(alive);
    }
  }
  std::uint16_t to_port_;
  std::uint16_t port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::vector<int> fds_;  // the relay thread's; closed by Cut() after it ended
  std::thread thread_;
};

// One appliance: its own etcd client and store, the same config.
struct Appliance {
  std::string name;
  std::shared_ptr<etcd::EtcdClient> client;
  std::unique_ptr<etcd::EtcdStore> store;
  std::unique_ptr<ProvisioningService> service;
  std::unique_ptr<EtcdClusterLeadership> leadership;
  std::atomic<ClusterDriver*> round_target{nullptr};
  std::unique_ptr<ClusterUpgradeDriver> upgrades;
  std::unique_ptr<ClusterDriver> clusters;

  ~Appliance() { Stop(); }
  // As metalpxed stops: the work ends, then the elections resign.
  void Stop() {
    if (clusters) clusters->Stop();
    if (upgrades) upgrades->Stop();
    round_target = nullptr;
    leadership.reset();
    clusters.reset();
    upgrades.reset();
    service.reset();
    store.reset();
    client.reset();
  }
  bool Leads() { return leadership && leadership->Leads("prod"); }
};

class ClusterHaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    EtcdClusterOptions o;
    o.members = 1;  // coordination, not quorum, is under test here
    etcd_ = new EtcdCluster(o);
  }
  static void TearDownTestSuite() {
    delete etcd_;
    etcd_ = nullptr;
  }

  void SetUp() override {
    name_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = TalosLab::Get().tmp() + "/" + name_;
    work_.emplace(io_.get_executor());
    io_thread_ = std::thread([this] { io_.run(); });
    scheduler_ = std::make_unique<AsioScheduler>(io_);
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    work_.reset();
    io_.stop();
    io_thread_.join();
  }

  void Configure(const std::vector<Node>& nodes, ConfigDelivery delivery, BootstrapMode mode) {
    auto cfg = std::make_shared<AppConfig>();
    cfg->server.state_dir = dir_;
    cfg->server.address = *Ipv4Address::Parse("127.0.0.1");
    cfg->dhcp.mode = DhcpMode::kProxy;
    ProfileConfig profile;
    profile.name = "prod-nodes";
    profile.kernel = "/nonexistent/vmlinuz";
    profile.initramfs = "/nonexistent/initramfs.xz";
    profile.talos_version = "v1.9.5";
    profile.schematic = kSchematic;
    profile.config_delivery = delivery;
    cfg->profiles["prod-nodes"] = profile;
    cfg->boot.default_profile = "prod-nodes";
    ClusterConfig c;
    c.name = "prod";
    c.endpoint = "https://127.0.0.2:6443";
    c.talosconfig_file = Fixture("cluster-a/talosconfig");
    c.talos = TalosLab::Get().Credentials("cluster-a");
    c.configs[Role::kControlPlane] = Fixture("cluster-a/controlplane.yaml");
    c.configs[Role::kWorker] = Fixture("cluster-a/worker.yaml");
    c.bootstrap = mode;
    cfg->clusters["prod"] = c;
    auto inv = std::make_shared<Inventory>();
    for (const auto& n : nodes) {
      MachineConfig mc;
      mc.name = n.name;
      mc.role = n.role;
      mc.macs = {*MacAddress::Parse(n.mac)};
      if (!n.ip.empty()) mc.ip = *Ipv4Address::Parse(n.ip);
      mc.cluster = "prod";
      mc.profile = "prod-nodes";
      inv->machines.push_back(mc);
    }
    cfg->inventory = inv;
    config_ = std::make_unique<SwappableConfigSource>(cfg);
  }

  std::unique_ptr<Appliance> StartAppliance(const std::string& name, TcpRelay* relay = nullptr) {
    auto app = std::make_unique<Appliance>();
    app->name = name;
    etcd::EtcdClientOptions eo = etcd_->ClientOptions();
    if (relay) {
      eo.endpoints.resize(1);
      eo.endpoints[0].port = relay->port();
      eo.endpoints[0].url = "http://127.0.0.1:" + std::to_string(relay->port());
    }
    auto client = etcd::EtcdClient::Create(eo);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    if (!client.ok()) return nullptr;
    app->client = *client;
    const std::string prefix = "/" + name_ + "/";
    auto store = etcd::EtcdStore::Open(app->client, prefix);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    app->store = std::move(*store);
    ProvisioningOptions po;
    po.shared_store = true;
    po.appliance = name;
    app->service = std::make_unique<ProvisioningService>(*config_, app->store.get(), po);
    EXPECT_TRUE(app->service->Load().ok());
    Appliance* raw = app.get();
    app->leadership = std::make_unique<EtcdClusterLeadership>(
        app->client, ClusterElectionOptions{prefix, name, 3}, [raw](const std::string&) {
          if (auto* c = raw->round_target.load()) c->RequestRound();
        });
    app->leadership->Campaign({"prod"});

    ClusterUpgradeOptions uo;
    uo.probe_timeout = std::chrono::seconds(2);
    uo.upgrade_timeout = std::chrono::seconds(10);
    uo.limits.node_timeout = std::chrono::seconds(30);
    uo.limits.first_poll = std::chrono::milliseconds(100);
    uo.limits.max_poll = std::chrono::milliseconds(400);
    uo.leadership = app->leadership.get();
    app->upgrades = std::make_unique<ClusterUpgradeDriver>(*config_, app->service->registry(), app->store.get(), uo);
    EXPECT_TRUE(app->upgrades->Load().ok());

    ClusterDriverOptions co;
    co.round_interval = std::chrono::milliseconds(300);
    co.probe_timeout = std::chrono::seconds(3);
    co.retry_delay = [](int) { return std::chrono::milliseconds(200); };
    co.shared_store = true;
    co.leadership = app->leadership.get();
    co.each_round = [raw] {  // what metalpxed's rounds do on a shared store
      raw->upgrades->Reread();
      raw->upgrades->ResumeLedRuns();
      (void)raw->service->registry().MergeFromStore();
      (void)raw->service->ReloadApplyTargets();
    };
    app->clusters =
        std::make_unique<ClusterDriver>(*config_, app->service->registry(), app->store.get(), *scheduler_, co);
    EXPECT_TRUE(app->clusters->Load().ok());
    app->clusters->SetConfigApplier(app->service.get());
    app->round_target = app->clusters.get();
    app->clusters->Start();
    return app;
  }

  // a_ leads, b_ stands by (started once a_ is elected).
  void StartBoth(TcpRelay* a_relay = nullptr) {
    a_ = StartAppliance("appliance-a", a_relay);
    ASSERT_TRUE(a_);
    ASSERT_TRUE(WaitFor([&] { return a_->Leads(); }, std::chrono::seconds(20)));
    b_ = StartAppliance("appliance-b");
    ASSERT_TRUE(b_);
    ASSERT_TRUE(WaitFor([&] { return b_->leadership->Leader("prod") == "appliance-a"; }, std::chrono::seconds(20)));
    EXPECT_FALSE(b_->Leads());
  }

  static bool Rounds(Appliance& app, std::uint64_t n) {
    const auto target = app.clusters->rounds() + n;
    app.clusters->RequestRound();
    return WaitFor([&] { return app.clusters->rounds() >= target; }, std::chrono::seconds(30));
  }


  // The nodes are running before the appliances start: their machine
  // records are in the store (as the leader's probes left them), so each
  // appliance loads them and nothing changes them during the test.
  void SeedRunning() {
    auto client = etcd::EtcdClient::Create(etcd_->ClientOptions());
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    auto store = etcd::EtcdStore::Open(*client, "/" + name_ + "/");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    for (const auto& n : {kCp1, kCp2, kWk1}) {
      MachineRecord m;
      m.mac = *MacAddress::Parse(n.mac);
      m.name = n.name;
      m.state = MachineState::kRunning;
      m.last_ip = *Ipv4Address::Parse(n.ip);
      m.first_seen_unix = m.last_seen_unix = m.state_changed_unix = now;
      (*store)->PutMachine(m, nullptr);
    }
    ASSERT_TRUE((*store)->Flush().ok());
  }

  static EtcdCluster* etcd_;
  std::string name_, dir_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread io_thread_;
  std::unique_ptr<AsioScheduler> scheduler_;
  std::unique_ptr<SwappableConfigSource> config_;
  std::unique_ptr<Appliance> a_, b_;
};
EtcdCluster* ClusterHaTest::etcd_ = nullptr;

// The installer is served through the standby: the leader sees the target at
// its next round, applies the config once, follows the node to running and
// bootstraps it once; the standby calls nothing and forgets the target.
TEST_F(ClusterHaTest, ATargetRegisteredThroughTheStandbyIsAppliedOnceByTheLeader) {
  const Node cp{"cp-a", Role::kControlPlane, "", "52:54:00:00:17:31"};
  const std::string ip = "127.0.0.61";
  Subprocess node = TalosLab::Get().StartApid(
      {"--listen", ip + ":50000", "--address", ip, "--maintenance", "--then-run", "--not-ready-bootstraps", "0"});
  Configure({cp}, ConfigDelivery::kApply, BootstrapMode::kAuto);
  ASSERT_NO_FATAL_FAILURE(StartBoth());

  IpxeRequest req;
  req.mac = *MacAddress::Parse(cp.mac);
  req.peer = *Ipv4Address::Parse(ip);
  req.buildarch = "x86_64";
  req.platform = "efi";
  ASSERT_EQ(b_->service->OnIpxe(req).kind, IpxeAnswer::Kind::kInstall);

  ASSERT_TRUE(WaitFor([&] { return CountOccurrences(node.Stdout(), "config applied") >= 1; },
                      std::chrono::seconds(20)))
      << node.Describe();
  ASSERT_TRUE(WaitFor([&] { return a_->clusters->Record("prod").bootstrap == ClusterBootstrapState::kBootstrapped; },
                      std::chrono::seconds(20)))
      << a_->clusters->Record("prod").reason << "\n" << node.Describe();
  EXPECT_EQ(a_->service->counters().configs_applied.load(), 1u);
  // More rounds of both: nobody applies or bootstraps again.
  ASSERT_TRUE(Rounds(*a_, 3));
  ASSERT_TRUE(Rounds(*b_, 3));
  EXPECT_EQ(CountOccurrences(node.Stdout(), "config applied"), 1u) << node.Describe();
  EXPECT_EQ(CountOccurrences(node.Stdout(), "bootstrapped etcd"), 1u) << node.Describe();
  EXPECT_EQ(b_->service->counters().configs_applied.load(), 0u);
  EXPECT_TRUE(a_->service->ConfigApplyTargets().empty());
  EXPECT_TRUE(b_->service->ConfigApplyTargets().empty()) << "the standby keeps no target the leader applied";
  auto stored = b_->store->LoadApplyTargets();
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->empty());
  EXPECT_EQ(b_->clusters->Record("prod").bootstrap, ClusterBootstrapState::kBootstrapped);
  EXPECT_EQ(b_->service->registry().StateOf(req.mac), MachineState::kRunning);
}

// metalpxectl upgrade through the standby is refused with the leader's name;
// through the leader it starts, the leader stops while cp-1 reboots into
// the target, the other appliance is elected, resumes from the shared
// record (waits for cp-1, upgrades cp-2) and no node is called twice.
TEST_F(ClusterHaTest, TheOtherApplianceFinishesTheUpgradeWhenTheLeaderStopsMidRun) {
  Configure({kCp1, kCp2, kWk1}, ConfigDelivery::kUrl, BootstrapMode::kManual);
  std::vector<Subprocess> nodes;
  for (const auto& n : {kCp1, kCp2, kWk1}) {
    nodes.push_back(TalosLab::Get().StartApid(
        {"--listen", n.ip + ":50000", "--address", n.ip, "--state", dir_ + "-" + n.name + ".state", "--version",
         "v1.9.5", "--reboot-ms", n.name == "cp-1" ? "3000" : "300", "--config",
         Fixture(n.role == Role::kWorker ? "cluster-a/worker.yaml" : "cluster-a/controlplane.yaml")}));
  }
  ASSERT_NO_FATAL_FAILURE(SeedRunning());
  ASSERT_NO_FATAL_FAILURE(StartBoth());
  for (const auto& n : {kCp1, kCp2, kWk1})
    ASSERT_EQ(b_->service->registry().StateOf(*MacAddress::Parse(n.mac)), MachineState::kRunning) << n.name;
  const Status refused = b_->upgrades->Run("prod", "v1.9.6", "", [](const UpgradeUpdate&) {});
  EXPECT_EQ(refused.code(), ErrorCode::kFailedPrecondition) << refused.ToString();
  EXPECT_NE(refused.message().find("appliance-a leads it"), std::string::npos) << refused.message();

  std::mutex mu;
  std::vector<std::string> upgrading;
  std::atomic<bool> ended{false};
  a_->upgrades->Start(
      "prod", "v1.9.6", "",
      [&](const UpgradeUpdate& u) {
        std::lock_guard lock(mu);
        if (u.phase == "upgrading") upgrading.push_back(u.node);
      },
      [&](const Status& st) {
        if (!st.ok()) std::printf("the leader's run ended: %s\n", st.ToString().c_str());
        ended = true;
      });
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard lock(mu);
        return upgrading.size() == 2;  // wk-1 done, cp-1 in flight
      },
      std::chrono::seconds(20)));
  const auto stopped_at = std::chrono::steady_clock::now();
  a_->Stop();
  ASSERT_TRUE(ended);

  ASSERT_TRUE(WaitFor([&] { return b_->Leads(); }, std::chrono::seconds(10)));
  const auto took_over_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - stopped_at).count();
  auto done = [&] {
    for (const auto& r : b_->upgrades->Records())
      if (r.cluster == "prod" && r.state == UpgradeRunState::kDone) return true;
    return false;
  };
  ASSERT_TRUE(WaitFor(done, std::chrono::seconds(25))) << nodes[0].Describe() << nodes[1].Describe();
  std::printf("standby leads the cluster %lld ms after the leader stopped\n", static_cast<long long>(took_over_ms));
  for (std::size_t i = 0; i < nodes.size(); ++i)
    EXPECT_EQ(CountOccurrences(nodes[i].Stdout(), "accepted; rebooting"), 1u) << nodes[i].Describe();
  for (const auto& n : {kCp1, kCp2, kWk1}) {
    auto c = talos::MachineClient::Connect(n.ip, talos::kApidPort, TalosLab::Get().Credentials("cluster-a"));
    ASSERT_TRUE(c.ok());
    auto v = c->Version(std::chrono::seconds(2));
    ASSERT_TRUE(v.ok()) << n.name;
    EXPECT_EQ(v->tag, "v1.9.6") << n.name;
  }
  auto stored = b_->store->LoadUpgrades();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].done, (std::vector<std::string>{"wk-1", "cp-1", "cp-2"}));
  EXPECT_EQ((*stored)[0].pinned_version, "v1.9.6");
}

// The leader vanishes while cp-1 reboots into the target (its way to etcd
// is cut: for the others it is dead, as after kill -9; here it also shows
// that it stops acting): its election lease expires after the TTL, the
// other appliance is elected and finishes the run; no node is called twice.
TEST_F(ClusterHaTest, WhenTheLeaderVanishesMidUpgradeTheOtherFinishesAfterTheTtl) {
  Configure({kCp1, kCp2, kWk1}, ConfigDelivery::kUrl, BootstrapMode::kManual);
  std::vector<Subprocess> nodes;
  for (const auto& n : {kCp1, kCp2, kWk1}) {
    nodes.push_back(TalosLab::Get().StartApid(
        {"--listen", n.ip + ":50000", "--address", n.ip, "--state", dir_ + "-" + n.name + ".state", "--version",
         "v1.9.5", "--reboot-ms", n.name == "cp-1" ? "3000" : "300", "--config",
         Fixture(n.role == Role::kWorker ? "cluster-a/worker.yaml" : "cluster-a/controlplane.yaml")}));
  }
  TcpRelay relay(etcd_->endpoint(0).port);
  ASSERT_NO_FATAL_FAILURE(SeedRunning());
  ASSERT_NO_FATAL_FAILURE(StartBoth(&relay));
  std::mutex mu;
  std::vector<std::string> upgrading;
  std::atomic<bool> ended{false};
  Status a_status;
  a_->upgrades->Start(
      "prod", "v1.9.6", "",
      [&](const UpgradeUpdate& u) {
        std::lock_guard lock(mu);
        if (u.phase == "upgrading") upgrading.push_back(u.node);
      },
      [&](const Status& st) {
        std::lock_guard lock(mu);
        a_status = st;
        ended = true;
      });
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard lock(mu);
        return upgrading.size() == 2;  // wk-1 done, cp-1 in flight
      },
      std::chrono::seconds(20)));
  const auto cut_at = std::chrono::steady_clock::now();
  relay.Cut();

  ASSERT_TRUE(WaitFor([&] { return b_->Leads(); }, std::chrono::seconds(15)));
  const auto took_over_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - cut_at).count();
  EXPECT_FALSE(a_->Leads()) << "stepped down before the other was elected";
  auto done = [&] {
    for (const auto& r : b_->upgrades->Records())
      if (r.cluster == "prod" && r.state == UpgradeRunState::kDone) return true;
    return false;
  };
  ASSERT_TRUE(WaitFor(done, std::chrono::seconds(20))) << nodes[0].Describe() << nodes[1].Describe();
  std::printf("etcd cut off from the leader: the other leads the cluster %lld ms later\n",
              static_cast<long long>(took_over_ms));
  ASSERT_TRUE(WaitFor([&] { return ended.load(); }, std::chrono::seconds(10)));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(a_status.code(), ErrorCode::kUnavailable) << a_status.ToString();
    EXPECT_EQ(upgrading, (std::vector<std::string>{"wk-1", "cp-1"})) << "the vanished leader called nothing more";
  }
  for (std::size_t i = 0; i < nodes.size(); ++i)
    EXPECT_EQ(CountOccurrences(nodes[i].Stdout(), "accepted; rebooting"), 1u) << nodes[i].Describe();
  for (const auto& n : {kCp1, kCp2, kWk1}) {
    auto c = talos::MachineClient::Connect(n.ip, talos::kApidPort, TalosLab::Get().Credentials("cluster-a"));
    ASSERT_TRUE(c.ok());
    auto v = c->Version(std::chrono::seconds(2));
    ASSERT_TRUE(v.ok()) << n.name;
    EXPECT_EQ(v->tag, "v1.9.6") << n.name;
  }
}

// configTokenMaxFetches bounds the fetches through every appliance together,
// and each fetch's event names the appliance that served it.
TEST_F(ClusterHaTest, ConfigTokenFetchesCountAcrossAppliances) {
  const Node cp{"cp-t", Role::kControlPlane, "", "52:54:00:00:17:41"};
  Configure({cp}, ConfigDelivery::kUrl, BootstrapMode::kManual);
  auto cfg = std::make_shared<AppConfig>(*config_->Current());
  cfg->boot.config_token_max_fetches = 3;
  config_ = std::make_unique<SwappableConfigSource>(cfg);
  ASSERT_NO_FATAL_FAILURE(StartBoth());
  IpxeRequest req;
  req.mac = *MacAddress::Parse(cp.mac);
  req.peer = *Ipv4Address::Parse("127.0.0.71");
  const IpxeAnswer a = a_->service->OnIpxe(req);
  ASSERT_EQ(a.kind, IpxeAnswer::Kind::kInstall) << a.why;
  std::string token;
  for (const auto& arg : a.kernel_args)
    if (arg.rfind("talos.config=", 0) == 0) token = arg.substr(arg.rfind('/') + 1);
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(a_->service->OnConfigFetch(token, req.peer).kind, ConfigAnswer::Kind::kServed);
  ASSERT_TRUE(a_->store->Flush().ok());
  ASSERT_EQ(b_->service->OnConfigFetch(token, req.peer).kind, ConfigAnswer::Kind::kServed);
  ASSERT_TRUE(b_->store->Flush().ok());
  ASSERT_EQ(a_->service->OnConfigFetch(token, req.peer).kind, ConfigAnswer::Kind::kServed);
  ASSERT_TRUE(a_->store->Flush().ok());
  const ConfigAnswer fourth = b_->service->OnConfigFetch(token, req.peer);
  EXPECT_EQ(fourth.kind, ConfigAnswer::Kind::kRefused) << "3 fetches through both: used up";
  EXPECT_NE(fourth.why.find("used-up"), std::string::npos) << fourth.why;
  bool named = false;
  // The first fetch moved the machine to installing: that event says where.
  for (const auto& e : a_->service->registry().RecentEvents(0, 1000))
    if (e.message.find("config fetched by 127.0.0.71 through appliance-a") != std::string::npos) named = true;
  EXPECT_TRUE(named) << "the fetch event names the appliance that served it";
}

}  // namespace
}  // namespace metalpxe
