// DHCPv6 with real peers, in namespaces the test creates: ISC dhclient -6
// asks metalpxe's Dhcp6Server (in-process, sockets in the server namespace)
// for an address and the boot file URL, while radvd, as the network's
// router, sends the router advertisements (M and O flags, on-link prefix):
// metalpxe sends none.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <future>
#include <mutex>
#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "core/config_source.h"
#include "core/provisioning/boot_files.h"
#include "dhcp/v6/server6.h"
#include "tests/support/netns.h"
#include "tests/support/subprocess.h"

namespace metalpxe::dhcp6 {
namespace {

using metalpxe::testing::RunCommand;
using metalpxe::testing::ScopedNetNsEnter;
using metalpxe::testing::Subprocess;
using metalpxe::testing::VethPair;
using metalpxe::testing::WaitFor;

namespace fs = std::filesystem;

std::string ReadText6(const fs::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

bool HaveTools6() {
  for (const char* t : {"/usr/sbin/dhclient", "/usr/sbin/radvd"})
    if (access(t, X_OK) != 0) return false;
  return true;
}

// dhclient as a PXE client: option 61 arch 7 and the PXEClient vendor class
// under enterprise 343, as OVMF's PXEv6 sends them; asks for options 59 and 23.
constexpr const char* kPxeClientConf =
    "option dhcp6.client-arch code 61 = unsigned integer 16;\n"
    "option dhcp6.pxe-vendor code 16 = { unsigned integer 32, unsigned integer 16, string };\n"
    "send dhcp6.client-arch 7;\n"
    "send dhcp6.pxe-vendor 343 32 \"PXEClient:Arch:00007:UNDI:003016\";\n"
    "request dhcp6.bootfile-url, dhcp6.name-servers;\n";

struct Lab6 {
  Lab6() : pair("d6", "", ""), dir(fs::temp_directory_path() / ("mpx-dhcp6-" + std::to_string(getpid()))) {
    fs::create_directories(dir);
    pair.server.Ip({"addr", "add", "fd00:66::1/64", "dev", "veth-s", "nodad"});
    pair.server.Sh("sysctl -qw net.ipv6.conf.all.forwarding=1");  // radvd advertises only as a router
    std::ofstream(dir / "radvd.conf") << "interface veth-s {\n"
                                         "  AdvSendAdvert on; MinRtrAdvInterval 3; MaxRtrAdvInterval 4;\n"
                                         "  AdvManagedFlag on; AdvOtherConfigFlag on;\n"
                                         "  prefix fd00:66::/64 { AdvOnLink on; AdvAutonomous off; };\n"
                                         "};\n";
    radvd.emplace(Subprocess::Start({"radvd", "-n", "-m", "stderr", "-C", (dir / "radvd.conf").string(), "-p",
                                     (dir / "radvd.pid").string()},
                                    pair.server.name()));
    // dhclient sends from its link-local address: wait until DAD is done.
    WaitFor([&] { return pair.client.Sh("ip -6 addr show dev veth-c scope link").find("tentative") == std::string::npos &&
                         pair.client.Sh("ip -6 addr show dev veth-c scope link").find("fe80::") != std::string::npos; },
            std::chrono::seconds(10));
    // The router's first advertisement (radvd sends a few at start, then every 3-4 s).
    WaitFor([&] { return pair.client.Sh("ip -6 route show dev veth-c").find("proto ra") != std::string::npos; },
            std::chrono::seconds(10));
  }
  ~Lab6() {
    if (dhclient_pid > 0) kill(dhclient_pid, SIGKILL);
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  // One dhclient -6 run: sends the PXE vendor class and client arch 7 (as
  // OVMF's PXEv6 does) and asks for option 59; returns its hook's environment.
  std::string RunDhclient(std::chrono::milliseconds* took) {
    std::ofstream(dir / "dhclient6.conf") << kPxeClientConf;
    std::ofstream(dir / "hook.sh") << "#!/bin/sh\nenv | grep -E '^(reason|new_)' | sort >> " << (dir / "hook.env").string()
                                   << "\n";
    fs::permissions(dir / "hook.sh", fs::perms::owner_all);
    fs::remove(dir / "hook.env");
    const auto t0 = std::chrono::steady_clock::now();
    // -1: one attempt (exit 2 without a lease); forks to the background once bound.
    auto r = RunCommand({"timeout", "40", "dhclient", "-6", "-1", "-v", "-cf", (dir / "dhclient6.conf").string(),
                         "-lf", (dir / "dhclient6.leases").string(), "-pf", (dir / "dhclient6.pid").string(), "-sf",
                         (dir / "hook.sh").string(), "veth-c"},
                        std::chrono::seconds(45), pair.client.name());
    *took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    const std::string pid = ReadText6(dir / "dhclient6.pid");
    if (!pid.empty()) dhclient_pid = std::stoi(pid);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return ReadText6(dir / "hook.env");
  }

  void StopDhclient() {
    if (dhclient_pid > 0) kill(dhclient_pid, SIGKILL);
    dhclient_pid = -1;
    std::error_code ec;
    fs::remove(dir / "dhclient6.leases", ec);
  }

  VethPair pair;
  fs::path dir;
  std::optional<Subprocess> radvd;
  int dhclient_pid = -1;
};

std::shared_ptr<AppConfig> PeerConfig6(DhcpMode mode) {
  auto c = std::make_shared<AppConfig>();
  c->server.interface = "veth-s";
  c->server.address = *Ipv4Address::Parse("10.66.0.1");
  c->server.address6 = *Ipv6Address::Parse("fd00:66::1");
  c->server.http_port = 8080;
  c->dhcp6.mode = mode;
  Subnet6Config s;
  s.subnet = *Ipv6Cidr::Parse("fd00:66::/64");
  s.pool = *Ipv6Range::Parse("fd00:66::100-fd00:66::1ff");
  s.dns = {*Ipv6Address::Parse("fd00:66::53")};
  s.lease_time = std::chrono::seconds(600);
  c->dhcp6.subnets.push_back(s);
  return c;
}

// Runs a Dhcp6Server with its sockets and thread inside `netns`.
struct InProcess6 {
  InProcess6(const std::string& netns, std::shared_ptr<AppConfig> config) : source(config) {
    auto policy = [config](const BootClient& client, const MacAddress&) {
      return ChooseLoader(client, config->server, [](std::string_view) { return true; });
    };
    server = std::make_unique<Dhcp6Server>(io, source, policy, [this](const Observation6& o) {
      std::lock_guard lock(mu);
      seen.push_back(o);
    });
    std::promise<Status> started;
    thread = std::thread([&, netns] {
      ScopedNetNsEnter in(netns);
      started.set_value(server->Start());
      io.run();
    });
    status = started.get_future().get();
  }
  ~InProcess6() {
    boost::asio::post(io, [this] { server->Stop(); });
    work.reset();
    io.stop();
    thread.join();
  }
  std::vector<Observation6> Seen() {
    std::lock_guard lock(mu);
    return seen;
  }
  boost::asio::io_context io;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work{io.get_executor()};
  SwappableConfigSource source;
  std::unique_ptr<Dhcp6Server> server;
  std::thread thread;
  Status status;
  std::mutex mu;
  std::vector<Observation6> seen;
};

TEST(Dhcp6Peer, DhclientGetsAnAddressAndTheBootUrlNextToRadvd) {
  if (!HaveTools6()) GTEST_SKIP() << "needs dhclient and radvd";
  Lab6 lab;
  std::chrono::milliseconds took{};
  {
  InProcess6 srv(lab.pair.server.name(), PeerConfig6(DhcpMode::kFull));
  ASSERT_TRUE(srv.status.ok()) << srv.status.message();
  const std::string env = lab.RunDhclient(&took);
  EXPECT_NE(env.find("reason=BOUND6"), std::string::npos) << env;
  EXPECT_NE(env.find("new_ip6_address=fd00:66::1"), std::string::npos) << env;  // fd00:66::1xx
  EXPECT_NE(env.find("new_dhcp6_bootfile_url=tftp://[fd00:66::1]/snponly.efi"), std::string::npos) << env;
  EXPECT_NE(env.find("new_dhcp6_name_servers=fd00:66::53"), std::string::npos) << env;
  // The default route and the on-link prefix came from the router's
  // advertisement (radvd's link-local address, a prefix that expires), not from us.
  const std::string routes = lab.pair.client.Sh("ip -6 route show dev veth-c");
  EXPECT_NE(routes.find("default via fe80::"), std::string::npos) << routes;
  EXPECT_NE(routes.find("proto ra"), std::string::npos) << routes;
  EXPECT_NE(routes.find("fd00:66::/64 proto kernel metric 256 expires"), std::string::npos) << routes;
  EXPECT_EQ(srv.server->bindings(), 1u);
  const auto seen = srv.Seen();
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.front().received, MsgType::kSolicit);
  EXPECT_TRUE(seen.front().mac.has_value());  // from dhclient's DUID-LLT
  EXPECT_EQ(seen.back().received, MsgType::kRequest);
  // The server's DUID-LL is veth-s's MAC, read in its own namespace.
  const std::string mac = lab.pair.server.Sh("cat /sys/class/net/veth-s/address");
  EXPECT_EQ(MacFromDuid(srv.server->server_duid())->ToString() + "\n", mac);
  }
  lab.StopDhclient();
  // The peer's figure from the same lab: dnsmasq as the DHCPv6 server, the
  // same pool and option 59, radvd still the router.
  if (access("/usr/sbin/dnsmasq", X_OK) != 0) return;
  auto dnsmasq = Subprocess::Start(
      {"dnsmasq", "-d", "-k", "--port=0", "--conf-file=/dev/null", "--interface=veth-s", "--bind-interfaces",
       "--dhcp-range=fd00:66::100,fd00:66::1ff,64,10m", "--dhcp-option=option6:bootfile-url,tftp://[fd00:66::1]/snponly.efi",
       "--dhcp-leasefile=" + (lab.dir / "dnsmasq.leases").string(), "--pid-file=" + (lab.dir / "dnsmasq.pid").string()},
      lab.pair.server.name());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::chrono::milliseconds peer_took{};
  const std::string peer_env = lab.RunDhclient(&peer_took);
  EXPECT_NE(peer_env.find("reason=BOUND6"), std::string::npos) << peer_env << dnsmasq.Describe();
  std::printf("[figure] dhclient -6 to BOUND6: metalpxe %lld ms, dnsmasq %lld ms (ratio %.2f)\n",
              static_cast<long long>(took.count()), static_cast<long long>(peer_took.count()),
              peer_took.count() > 0 ? double(took.count()) / double(peer_took.count()) : 0.0);
}

TEST(Dhcp6Peer, ProxyModeGivesTheBootUrlWithoutAnAddress) {
  if (!HaveTools6()) GTEST_SKIP() << "needs dhclient and radvd";
  Lab6 lab;
  InProcess6 srv(lab.pair.server.name(), PeerConfig6(DhcpMode::kProxy));
  ASSERT_TRUE(srv.status.ok()) << srv.status.message();
  // dhclient -6 -S: stateless (Information-request), as a SLAAC client asks.
  std::ofstream(lab.dir / "dhclient6.conf") << kPxeClientConf;
  std::ofstream(lab.dir / "hook.sh") << "#!/bin/sh\nenv | grep -E '^(reason|new_)' | sort >> "
                                     << (lab.dir / "hook.env").string() << "\n";
  fs::permissions(lab.dir / "hook.sh", fs::perms::owner_all);
  auto r = RunCommand({"timeout", "30", "dhclient", "-6", "-S", "-1", "-v", "-cf", (lab.dir / "dhclient6.conf").string(),
                       "-lf", (lab.dir / "dhclient6.leases").string(), "-pf", (lab.dir / "dhclient6.pid").string(),
                       "-sf", (lab.dir / "hook.sh").string(), "veth-c"},
                      std::chrono::seconds(35), lab.pair.client.name());
  const std::string pid = ReadText6(lab.dir / "dhclient6.pid");
  if (!pid.empty()) lab.dhclient_pid = std::stoi(pid);
  // The boot URL and DNS, no address.
  const std::string env = ReadText6(lab.dir / "hook.env");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(env.find("reason="), std::string::npos) << env;  // dhclient 4.4 says RENEW6 for a stateless reply
  EXPECT_EQ(env.find("new_ip6_address"), std::string::npos) << env;
  EXPECT_NE(env.find("new_dhcp6_bootfile_url=tftp://[fd00:66::1]/snponly.efi"), std::string::npos) << env;
  EXPECT_EQ(srv.server->bindings(), 0u);
  bool answered = false;
  for (const auto& o : srv.Seen())
    if (o.received == MsgType::kInformationRequest && o.replied == MsgType::kReply) answered = true;
  EXPECT_TRUE(answered);
}

}  // namespace
}  // namespace metalpxe::dhcp6
