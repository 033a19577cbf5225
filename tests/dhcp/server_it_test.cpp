// DhcpServer against real peers, inside network namespaces the test makes:
// busybox udhcpc, ISC dhclient, perfdhcp (a relay from another namespace),
// crafted PXE clients, dnsmasq as the network's address server next to
// proxy mode, and kill -9 of a server process under load.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "core/config_source.h"
#include "core/store/sqlite_store.h"
#include "dhcp/server.h"
#include "tests/dhcp/packet_builder.h"
#include "tests/dhcp/test_config.h"
#include "tests/dhcp/udp_peer.h"
#include "tests/support/netns.h"
#include "tests/support/subprocess.h"

namespace metalpxe::dhcp {
namespace {

using namespace testing;
using metalpxe::testing::NetNs;
using metalpxe::testing::RunCommand;
using metalpxe::testing::Subprocess;
using metalpxe::testing::VethPair;
using metalpxe::testing::WaitFor;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string TempDir() {
  char tmpl[] = "/tmp/metalpxe-dhcp-it-XXXXXX";
  const char* d = mkdtemp(tmpl);
  if (d == nullptr) throw std::runtime_error("mkdtemp");
  return d;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// The server runs in this process on its own io thread; its sockets are
// opened inside `netns`. Backed by the real SqliteStore in a temp dir.
class InProcessServer {
 public:
  InProcessServer(const std::string& netns, std::shared_ptr<AppConfig> config) : dir_(TempDir()) {
    auto store = SqliteStore::Open(dir_);
    if (!store) throw std::runtime_error(store.status().ToString());
    store_ = std::move(store).value();
    source_ = std::make_unique<SwappableConfigSource>(config);
    server_ = std::make_unique<DhcpServer>(io_, *source_, *store_, [this](const DhcpObservation& o) {
      std::lock_guard lock(mu_);
      observations_.push_back(o);
    });
    {
      metalpxe::testing::ScopedNetNsEnter enter(netns);
      start_status_ = server_->Start();
    }
    thread_ = std::thread([this] { io_.run(); });
  }
  ~InProcessServer() {
    server_->Stop();
    work_.reset();
    io_.stop();
    thread_.join();
    server_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  const Status& start_status() const { return start_status_; }
  DhcpServer& server() { return *server_; }
  SqliteStore& store() { return *store_; }
  std::vector<DhcpObservation> observations() {
    std::lock_guard lock(mu_);
    return observations_;
  }

 private:
  std::string dir_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<SwappableConfigSource> source_;
  std::unique_ptr<DhcpServer> server_;
  Status start_status_;
  std::mutex mu_;
  std::vector<DhcpObservation> observations_;
  std::thread thread_;
};

std::shared_ptr<AppConfig> WideConfig() {
  auto c = MakeConfig();
  c->dhcp.subnets.resize(1);
  auto& s = c->dhcp.subnets[0];
  s.subnet = *Ipv4Cidr::Parse("10.66.0.0/16");
  s.pool = *Ipv4Range::Parse("10.66.1.1-10.66.200.254");
  s.router = Ip("10.66.0.1");
  s.dns = {Ip("10.66.0.53")};
  s.lease_time = seconds(1234);
  return c;
}

TEST(dhcp_it, UdhcpcGetsLeaseWithRouterDnsAndLeaseTime) {
  VethPair net("du", "10.66.0.1/16", "");
  InProcessServer srv(net.server.name(), WideConfig());
  ASSERT_TRUE(srv.start_status().ok()) << srv.start_status().ToString();
  const std::string dir = TempDir();
  const std::string script = dir + "/script.sh", out = dir + "/out";
  std::ofstream(script) << "#!/bin/sh\necho \"$1 ip=$ip router=$router dns=$dns lease=$lease mask=$subnet\" >> " << out
                        << "\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  auto r = RunCommand({"busybox", "udhcpc", "-i", "veth-c", "-n", "-q", "-f", "-t", "5", "-T", "1", "-s", script},
                      seconds(30), net.client.name());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const std::string seen = ReadFile(out);
  EXPECT_NE(seen.find("bound ip=10.66.1.1 router=10.66.0.1 dns=10.66.0.53 lease=1234 mask=255.255.0.0"),
            std::string::npos)
      << seen << r.output;
  auto leases = srv.server().Leases();
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].ip, Ip("10.66.1.1"));
  auto stored = srv.store().LoadLeases();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u) << "the ACKed lease is in the store";
  EXPECT_EQ(stored->at(0).mac, leases[0].mac);
  bool saw_ack = false;
  for (const auto& o : srv.observations())
    if (o.message_type == MessageType::kAck && o.leased_ip == Ip("10.66.1.1")) saw_ack = true;
  EXPECT_TRUE(saw_ack);
  // Every reply sent was timed, under its own type.
  const auto stats = srv.server().Stats();
  for (const auto& [type, h] : srv.server().ReplyLatencies())
    EXPECT_EQ(h.count, stats.sent[static_cast<std::size_t>(type)]) << MessageTypeName(type);
  EXPECT_GE(stats.sent[static_cast<std::size_t>(MessageType::kAck)], 1u);
  std::filesystem::remove_all(dir);
}

TEST(dhcp_it, DhclientGetsLeaseWithRouterDnsAndLeaseTime) {
  VethPair net("dc", "10.66.0.1/16", "");
  InProcessServer srv(net.server.name(), WideConfig());
  ASSERT_TRUE(srv.start_status().ok()) << srv.start_status().ToString();
  const std::string dir = TempDir();
  const std::string script = dir + "/script.sh", out = dir + "/out";
  std::ofstream(script) << "#!/bin/sh\necho \"$reason ip=$new_ip_address router=$new_routers "
                           "dns=$new_domain_name_servers lease=$new_dhcp_lease_time\" >> "
                        << out << "\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  auto client = Subprocess::Start({"dhclient", "-4", "-d", "-1", "-sf", script, "-lf", dir + "/leases", "-pf",
                                   dir + "/pid", "veth-c"},
                                  net.client.name());
  const bool bound = WaitFor([&] { return ReadFile(out).find("BOUND ip=") != std::string::npos; }, seconds(30));
  client.Kill();
  ASSERT_TRUE(bound) << ReadFile(out) << client.Describe();
  EXPECT_NE(ReadFile(out).find("BOUND ip=10.66.1.1 router=10.66.0.1 dns=10.66.0.53 lease=1234"), std::string::npos)
      << ReadFile(out);
  std::filesystem::remove_all(dir);
}

TEST(dhcp_it, PerfdhcpRelayCompletesDoraWithoutDrops) {
  VethPair net("dp", "10.66.0.1/16", "10.66.0.2/16");
  InProcessServer srv(net.server.name(), WideConfig());
  ASSERT_TRUE(srv.start_status().ok()) << srv.start_status().ToString();
  // A drop here must mean a lost answer, not a late one: on a loaded machine
  // (CI's two cores, other tests beside) an answer can take over perfdhcp's
  // default 1 s drop time. -d 20 per exchange, and 20 s to collect the last.
  auto r = RunCommand({"perfdhcp", "-4", "-r", "200", "-R", "100000", "-p", "4", "-d", "20", "-d", "20", "-W",
                       "20000000", "-l", "10.66.0.2", "10.66.0.1"},
                      seconds(90), net.client.name());
  // perfdhcp exits 3 when there were drops.
  // (sent, drops) for DISCOVER-OFFER then REQUEST-ACK. No std::regex: g++ 12
  // warns inside it under -fsanitize, and -Werror makes that fatal.
  std::vector<std::pair<int, int>> sent_drops;
  auto number_after = [&](const std::string& label, std::size_t from, std::size_t& at) {
    at = r.output.find(label, from);
    if (at == std::string::npos) return -1;
    at += label.size();
    return std::atoi(r.output.c_str() + at);
  };
  for (std::size_t pos = 0;;) {
    std::size_t at = 0;
    const int sent = number_after("sent packets: ", pos, at);
    if (sent < 0) break;
    const int drops = number_after("drops: ", at, at);
    if (drops < 0) break;
    sent_drops.emplace_back(sent, drops);
    pos = at;
  }
  ASSERT_EQ(sent_drops.size(), 2u) << r.output;
  EXPECT_GT(sent_drops[0].first, 400) << r.output;
  EXPECT_EQ(sent_drops[0].second, 0) << "DISCOVER-OFFER drops\n" << r.output;
  EXPECT_EQ(sent_drops[1].second, 0) << "REQUEST-ACK drops\n" << r.output;
  const auto stats = srv.server().Stats();
  EXPECT_EQ(stats.sent[static_cast<int>(MessageType::kAck)], static_cast<std::uint64_t>(sent_drops[1].first));
  EXPECT_EQ(stats.dropped_malformed, 0u);
  auto stored = srv.store().LoadLeases();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->size(), static_cast<std::size_t>(sent_drops[1].first)) << "every ACKed lease is stored";
}

DhcpMessage PxeDiscover(std::uint32_t xid, const char* mac, std::uint16_t arch, bool ipxe = false,
                        bool http = false) {
  auto m = Request(MessageType::kDiscover, mac, xid);
  MakePxe(m, arch);
  if (http) m.SetString(opt::kVendorClass, "HTTPClient:Arch:00016:UNDI:003001");
  if (ipxe) m.SetString(opt::kUserClass, "iPXE");
  m.flags = kBroadcastFlag;  // the crafted client has no address to be unicast to
  return m;
}

TEST(dhcp_it, PxeClientsGetBootFilePerArchitectureAndGarbageIsDropped) {
  VethPair net("dx", "10.66.0.1/16", "");
  InProcessServer srv(net.server.name(), WideConfig());
  ASSERT_TRUE(srv.start_status().ok()) << srv.start_status().ToString();
  UdpPeer client(net.client.name(), 68, "veth-c");
  struct Case {
    std::uint16_t arch;
    bool ipxe, http;
    std::string file, vendor;
  } cases[] = {
      {0, false, false, "undionly.kpxe", "PXEClient"},
      {7, false, false, "snponly.efi", "PXEClient"},
      {9, false, false, "snponly.efi", "PXEClient"},
      // No arm64 iPXE in this tftpRoot: an address but no boot file, never
      // the x86 binary an arm64 machine cannot run.
      {11, false, false, "", ""},
      {16, false, true, "http://10.66.0.1:8080/assets/snponly.efi", "HTTPClient"},
      {7, true, false, "http://10.66.0.1:8080/boot.ipxe", "PXEClient"},
  };
  std::uint32_t xid = 100;
  for (const auto& c : cases) {
    ++xid;
    client.Send(PxeDiscover(xid, "52:54:00:00:aa:01", c.arch, c.ipxe, c.http), Ip("255.255.255.255"), 67);
    auto replies = client.Collect(xid, milliseconds(800));
    ASSERT_EQ(replies.size(), 1u) << "arch " << c.arch;
    const auto& o = replies[0].msg;
    EXPECT_EQ(o.Type(), MessageType::kOffer);
    EXPECT_EQ(o.GetString(opt::kBootfileName).value_or(""), c.file) << "arch " << c.arch;
    EXPECT_EQ(o.GetString(opt::kVendorClass).value_or(""), c.vendor) << "arch " << c.arch;
    if (!c.file.empty()) {
      EXPECT_EQ(o.siaddr, Ip("10.66.0.1"));
    }
    EXPECT_EQ(o.GetIpv4(opt::kServerId), Ip("10.66.0.1"));
    EXPECT_EQ(o.yiaddr, Ip("10.66.1.1")) << "one MAC, one address";
  }
  // Malformed: truncated, bad option length, overload loop; never answered.
  RawPacket truncated;
  truncated.bytes().resize(100);
  RawPacket bad_len;
  bad_len.At(4, {0, 0, 0, 9}).Opt(53, {1}).Raw({12, 200, 'x'});
  RawPacket absurd;
  absurd.At(4, {0, 0, 0, 9}).Opt(53, {1});
  absurd.bytes().resize(3000, 0xfe);
  for (auto* p : {&truncated, &bad_len, &absurd}) client.SendRaw(p->bytes(), Ip("255.255.255.255"), 67);
  EXPECT_TRUE(client.Collect(9, milliseconds(500)).empty());
  EXPECT_TRUE(WaitFor([&] { return srv.server().Stats().dropped_malformed == 3; }, seconds(5)))
      << srv.server().Stats().dropped_malformed;
  auto obs = srv.observations();
  ASSERT_FALSE(obs.empty());
  EXPECT_EQ(BootClientName(obs[0].client), "bios-i386");
  EXPECT_EQ(obs[0].boot_file, "undionly.kpxe");
  EXPECT_EQ(obs.back().client.stage, BootStage::kIpxe);
}

// A LAN (bridge) with dnsmasq owning addresses, metalpxe in proxy mode, and a client.
struct ProxyLan {
  ProxyLan() : lan("pl"), dns("pd"), pxe("pp"), cli("pc") {
    lan.Ip({"link", "add", "br0", "type", "bridge"});
    lan.Ip({"link", "set", "br0", "up"});
    int i = 0;
    for (NetNs* n : {&dns, &pxe, &cli}) {
      const std::string port = "p" + std::to_string(i++);
      lan.Ip({"link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", n->name()});
      lan.Ip({"link", "set", port, "master", "br0", "up"});
      n->Ip({"link", "set", "eth0", "up"});
    }
    dns.Ip({"addr", "add", "10.88.0.1/24", "dev", "eth0"});
    pxe.Ip({"addr", "add", "10.88.0.2/24", "dev", "eth0"});
  }
  NetNs lan, dns, pxe, cli;
};

TEST(dhcp_it, ProxyModeNextToDnsmasq) {
  ProxyLan net;
  const std::string dir = TempDir();
  auto dnsmasq = Subprocess::Start({"dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
                                    "--interface=eth0", "--bind-interfaces", "--no-ping",
                                    "--dhcp-range=10.88.0.100,10.88.0.150,255.255.255.0,1h",
                                    "--dhcp-leasefile=" + dir + "/dnsmasq.leases", "--pid-file=" + dir + "/dnsmasq.pid"},
                                   net.dns.name());
  auto config = MakeConfig(DhcpMode::kProxy);
  config->server.address = Ip("10.88.0.2");
  config->dhcp.subnets.clear();
  InProcessServer srv(net.pxe.name(), config);
  ASSERT_TRUE(srv.start_status().ok()) << srv.start_status().ToString();
  ASSERT_TRUE(WaitFor([&] { return dnsmasq.Running(); }, seconds(2)));
  std::this_thread::sleep_for(milliseconds(300));  // dnsmasq binds

  // A plain client: its address from dnsmasq, nothing from metalpxe.
  auto r = RunCommand({"busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "5", "-T", "1", "-s", "/bin/true"},
                      seconds(30), net.cli.name());
  EXPECT_EQ(r.exit_code, 0) << r.output << dnsmasq.Describe();
  EXPECT_NE(r.output.find("obtained from 10.88.0.1"), std::string::npos) << r.output;
  EXPECT_EQ(srv.server().Stats().sent[static_cast<int>(MessageType::kOffer)], 0u);
  EXPECT_EQ(srv.server().Stats().sent[static_cast<int>(MessageType::kAck)], 0u);

  // A PXE client: an address offer from dnsmasq, a boot offer from metalpxe.
  UdpPeer client(net.cli.name(), 68, "eth0");
  client.Send(PxeDiscover(777, "52:54:00:00:bb:01", 7), Ip("255.255.255.255"), 67);
  auto offers = client.Collect(777, milliseconds(1500));
  ASSERT_EQ(offers.size(), 2u) << dnsmasq.Describe();
  const DhcpMessage* address_offer = nullptr;
  const DhcpMessage* boot_offer = nullptr;
  for (const auto& o : offers) (o.msg.yiaddr.IsUnspecified() ? boot_offer : address_offer) = &o.msg;
  ASSERT_NE(address_offer, nullptr);
  ASSERT_NE(boot_offer, nullptr);
  EXPECT_EQ(address_offer->GetIpv4(opt::kServerId), Ip("10.88.0.1"));
  EXPECT_TRUE(address_offer->file.empty());
  EXPECT_EQ(boot_offer->GetIpv4(opt::kServerId), Ip("10.88.0.2"));
  EXPECT_EQ(boot_offer->GetString(opt::kVendorClass), "PXEClient");
  EXPECT_EQ(boot_offer->file, "snponly.efi");
  EXPECT_EQ(boot_offer->siaddr, Ip("10.88.0.2"));
  EXPECT_FALSE(boot_offer->Has(opt::kLeaseTime));

  // Take the address, then ask the boot server on 4011 (as EDK2 does).
  net.cli.Ip({"addr", "add", address_offer->yiaddr.ToString() + "/24", "dev", "eth0"});
  UdpPeer bound(net.cli.name(), 4011, "", address_offer->yiaddr);
  auto req = PxeDiscover(778, "52:54:00:00:bb:01", 7);
  req.SetU8(opt::kMessageType, 3);
  req.flags = 0;
  req.ciaddr = address_offer->yiaddr;
  bound.Send(req, Ip("10.88.0.2"), 4011);
  auto acks = bound.Collect(778, milliseconds(1000));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].msg.Type(), MessageType::kAck);
  EXPECT_EQ(acks[0].msg.file, "snponly.efi");
  EXPECT_TRUE(acks[0].msg.yiaddr.IsUnspecified());
  std::filesystem::remove_all(dir);
}

std::string TestServerPath() { return METALPXE_DHCP_TESTSERVER; }

// Relay-style load generator (like perfdhcp): DORA for many MACs from
// 10.66.0.2:67, recording every ACK it received.
class AckRecorder {
 public:
  explicit AckRecorder(const std::string& netns) : peer_(netns, 67, "", Ip("10.66.0.2")) {}

  // Runs until `stop()` says so or `limit` elapses; keeps `window` DORAs in flight.
  template <typename Stop>
  void Run(Stop stop, milliseconds limit, int window = 64) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int in_flight = 0;
    auto last_progress = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() < deadline && !stop()) {
      while (in_flight < window) {
        Discover(next_++);
        ++in_flight;
      }
      auto r = peer_.Receive(milliseconds(20));
      if (!r) {
        if (std::chrono::steady_clock::now() - last_progress > milliseconds(300)) in_flight = 0;  // lost: refill
        continue;
      }
      last_progress = std::chrono::steady_clock::now();
      Handle(r->msg, in_flight);
    }
  }
  // Collects stragglers (ACKs already on the wire) for `window`.
  void Drain(milliseconds window) {
    int ignored = 0;
    const auto deadline = std::chrono::steady_clock::now() + window;
    while (std::chrono::steady_clock::now() < deadline)
      if (auto r = peer_.Receive(milliseconds(20))) Handle(r->msg, ignored);
  }
  std::map<MacAddress, Ipv4Address> acked;
  std::size_t acks = 0;

  static MacAddress MacFor(std::uint32_t n) {
    MacAddress m;
    m.bytes = {0x02, 0x42, static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
               static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
    return m;
  }
  void Discover(std::uint32_t n) {
    DhcpMessage m;
    m.xid = n;
    m.hops = 1;
    m.giaddr = Ip("10.66.0.2");
    m.SetMac(MacFor(n));
    m.SetU8(opt::kMessageType, 1);
    peer_.Send(m, Ip("10.66.0.1"), 67);
  }

 private:
  void Handle(const DhcpMessage& r, int& in_flight) {
    if (r.Type() == MessageType::kOffer) {
      DhcpMessage q;
      q.xid = r.xid;
      q.hops = 1;
      q.giaddr = Ip("10.66.0.2");
      q.chaddr = r.chaddr;
      q.SetU8(opt::kMessageType, 3);
      q.SetIpv4(opt::kRequestedIp, r.yiaddr);
      q.SetIpv4(opt::kServerId, *r.GetIpv4(opt::kServerId));
      peer_.Send(q, Ip("10.66.0.1"), 67);
    } else if (r.Type() == MessageType::kAck) {
      acked[r.Mac()] = r.yiaddr;
      ++acks;
      --in_flight;
    } else {
      --in_flight;
    }
  }
  UdpPeer peer_;
  std::uint32_t next_ = 1;
};

TEST(dhcp_it, KillNineUnderLoadLosesNoAckedLease) {
  VethPair net("dk", "10.66.0.1/16", "10.66.0.2/16");
  const std::string dir = TempDir();
  const std::vector<std::string> argv{TestServerPath(), "--state-dir", dir,          "--address",    "10.66.0.1",
                                      "--subnet",       "10.66.0.0/16", "--pool",    "10.66.1.1-10.66.200.254",
                                      "--lease-time",   "3600"};
  std::map<MacAddress, Ipv4Address> acked;
  {
    auto server = Subprocess::Start(argv, net.server.name());
    ASSERT_TRUE(WaitFor([&] { return server.Stdout().find("READY") != std::string::npos; }, seconds(10)))
        << server.Describe();
    AckRecorder load(net.client.name());
    load.Run([&] { return load.acks >= 400; }, seconds(60));
    server.Kill(9);  // mid-load: DORAs are in flight, leases in the store's queue
    server.Wait(seconds(5));
    load.Drain(milliseconds(300));
    ASSERT_GE(load.acks, 400u) << server.Describe();
    acked = load.acked;
  }
  {
    auto store = SqliteStore::Open(dir);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto leases = (*store)->LoadLeases();
    ASSERT_TRUE(leases.ok());
    std::map<Ipv4Address, MacAddress> by_ip;
    std::set<MacAddress> macs;
    for (const auto& l : *leases) {
      EXPECT_TRUE(by_ip.emplace(l.ip, l.mac).second) << "one address, two leases: " << l.ip.ToString();
      if (l.kind == LeaseRecord::Kind::kActive) {
        EXPECT_TRUE(macs.insert(l.mac).second) << l.mac.ToString();
      }
    }
    for (const auto& [mac, ip] : acked) {
      auto it = by_ip.find(ip);
      ASSERT_NE(it, by_ip.end()) << "ACKed lease lost: " << mac.ToString() << " " << ip.ToString();
      EXPECT_EQ(it->second, mac) << ip.ToString();
    }
  }
  // Restarted, the server keeps every ACKed address with its MAC and gives new clients others.
  auto server = Subprocess::Start(argv, net.server.name());
  ASSERT_TRUE(WaitFor([&] { return server.Stdout().find("READY") != std::string::npos; }, seconds(10)))
      << server.Describe();
  std::set<Ipv4Address> taken;
  for (const auto& [mac, ip] : acked) taken.insert(ip);
  UdpPeer relay(net.client.name(), 67, "", Ip("10.66.0.2"));
  std::uint32_t xid = 0x70000000;
  int checked = 0;
  for (const auto& [mac, ip] : acked) {
    if (++checked > 50) break;
    DhcpMessage d;
    d.xid = ++xid;
    d.giaddr = Ip("10.66.0.2");
    d.SetMac(mac);
    d.SetU8(opt::kMessageType, 1);
    relay.Send(d, Ip("10.66.0.1"), 67);
    auto got = relay.Collect(xid, milliseconds(300));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].msg.yiaddr, ip) << mac.ToString();
  }
  for (std::uint32_t n = 0; n < 50; ++n) {
    DhcpMessage d;
    d.xid = ++xid;
    d.giaddr = Ip("10.66.0.2");
    d.SetMac(AckRecorder::MacFor(0x00ff0000 + n));
    d.SetU8(opt::kMessageType, 1);
    relay.Send(d, Ip("10.66.0.1"), 67);
    auto got = relay.Collect(xid, milliseconds(300));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(taken.count(got[0].msg.yiaddr), 0u) << "new client offered an ACKed address";
  }
  server.Kill(15);
  server.Wait(seconds(5));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace metalpxe::dhcp
