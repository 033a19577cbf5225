// metalpxe-dhcp-testserver: DhcpServer on a real SqliteStore, configured by
// flags, for integration tests (kill -9 under load) and bench/dhcp. The
// daemon (metalpxed) is the product; this is the DHCP module alone.
//
//   metalpxe-dhcp-testserver --state-dir DIR --address A --subnet CIDR --pool FIRST-LAST
//       [--router A] [--dns A] [--lease-time S] [--interface IF] [--mode full|proxy]
//       [--known-mac MAC[=IP]]... [--unknown ignore|discover|auto-install]
//       [--preload N]   (bench: store N active leases from the pool start, then exit)
//
// Prints "READY" on stdout once the sockets are open; exits on SIGTERM/SIGINT.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "core/config_source.h"
#include "core/log.h"
#include "core/store/sqlite_store.h"
#include "dhcp/server.h"

using namespace metalpxe;

namespace {

int Usage(const char* why) {
  std::fprintf(stderr, "metalpxe-dhcp-testserver: %s\n", why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  auto config = std::make_shared<AppConfig>();
  SubnetConfig subnet;
  std::string state_dir;
  auto inventory = std::make_shared<Inventory>();
  bool have_subnet = false;
  long preload = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage(("missing value for " + flag).c_str());
    const std::string v = argv[++i];
    if (flag == "--state-dir") {
      state_dir = v;
    } else if (flag == "--address") {
      auto a = Ipv4Address::Parse(v);
      if (!a) return Usage("bad --address");
      config->server.address = *a;
    } else if (flag == "--subnet") {
      auto c = Ipv4Cidr::Parse(v);
      if (!c) return Usage("bad --subnet");
      subnet.subnet = *c;
      have_subnet = true;
    } else if (flag == "--pool") {
      auto r = Ipv4Range::Parse(v);
      if (!r) return Usage("bad --pool");
      subnet.pool = *r;
    } else if (flag == "--router") {
      subnet.router = Ipv4Address::Parse(v);
    } else if (flag == "--dns") {
      if (auto a = Ipv4Address::Parse(v)) subnet.dns.push_back(*a);
    } else if (flag == "--lease-time") {
      subnet.lease_time = std::chrono::seconds(std::stoll(v));
    } else if (flag == "--interface") {
      config->server.interface = v;
    } else if (flag == "--tftp-root") {
      config->server.tftp_root = v;
    } else if (flag == "--http-port") {
      config->server.http_port = static_cast<std::uint16_t>(std::stoi(v));
    } else if (flag == "--mode") {
      config->dhcp.mode = v == "proxy" ? DhcpMode::kProxy : DhcpMode::kFull;
    } else if (flag == "--proxy-port67") {
      config->dhcp.proxy_port67 = v != "false";
    } else if (flag == "--unknown") {
      config->boot.unknown_machines = v == "ignore"         ? UnknownMachinePolicy::kIgnore
                                      : v == "auto-install" ? UnknownMachinePolicy::kAutoInstall
                                                            : UnknownMachinePolicy::kDiscover;
    } else if (flag == "--preload") {
      preload = std::stol(v);
    } else if (flag == "--known-mac") {
      MachineConfig m;
      const auto eq = v.find('=');
      auto mac = MacAddress::Parse(v.substr(0, eq));
      if (!mac) return Usage("bad --known-mac");
      m.name = "m" + std::to_string(inventory->machines.size());
      m.macs = {*mac};
      if (eq != std::string::npos) m.ip = Ipv4Address::Parse(v.substr(eq + 1));
      inventory->machines.push_back(m);
    } else {
      return Usage(("unknown flag " + flag).c_str());
    }
  }
  if (state_dir.empty()) return Usage("--state-dir is required");
  if (have_subnet) config->dhcp.subnets.push_back(subnet);
  config->inventory = inventory;
  InitLogging("warn");

  auto store = SqliteStore::Open(state_dir);
  if (!store) return Usage(store.status().ToString().c_str());
  if (preload > 0) {
    // Leases as a long-running server would hold them: distinct MACs, one
    // address each from the start of the pool, valid for a day.
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    for (long n = 0; n < preload; ++n) {
      LeaseRecord r;
      r.ip = Ipv4Address{subnet.pool.first.value + static_cast<std::uint32_t>(n)};
      r.mac.bytes = {0x02, 0x50, static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                     static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
      r.client_id = "01" + r.mac.ToString();
      r.hostname = "host-" + std::to_string(n);
      r.expires_unix = now + 86400;
      (*store)->PutLease(r, nullptr);
    }
    auto s = (*store)->Flush();
    std::printf("preloaded %ld leases: %s\n", preload, s.ToString().c_str());
    return s.ok() ? 0 : 1;
  }
  SwappableConfigSource source(config);
  boost::asio::io_context io;
  dhcp::DhcpServer server(io, source, **store, nullptr);
  if (auto s = server.Start(); !s.ok()) return Usage(s.ToString().c_str());
  std::printf("READY\n");
  std::fflush(stdout);
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) {
    server.Stop();
    io.stop();
  });
  io.run();
  const auto stats = server.Stats();
  std::fprintf(stderr, "acks=%llu offers=%llu naks=%llu malformed=%llu store_failures=%llu\n",
               static_cast<unsigned long long>(stats.sent[5]), static_cast<unsigned long long>(stats.sent[2]),
               static_cast<unsigned long long>(stats.naks), static_cast<unsigned long long>(stats.dropped_malformed),
               static_cast<unsigned long long>(stats.store_failures));
  return 0;
}
