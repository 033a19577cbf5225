// Stand-in appliance processes for the tests that kill one with -9: the same
// library calls the daemon will make, in a process of their own.
//
//   etcd_peer_tool campaign ENDPOINTS KEY NAME TTL
//     campaigns for KEY; on every change prints
//     "<CLOCK_MONOTONIC ms> leader=<0|1> holder=<name> term=<n>"
//   etcd_peer_tool write-leases ENDPOINTS PREFIX FIRST_IP COUNT WINDOW
//     writes COUNT leases through EtcdStore with WINDOW outstanding, printing
//     "<ip>" once each is durable (the ACK a DHCP server would send)
//
// ENDPOINTS is a comma-separated list of http:// URLs. Runs until done or killed.
#include <time.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "etcd/etcd_election.h"
#include "etcd/etcd_store.h"

using namespace metalpxe;
using namespace metalpxe::etcd;

namespace {

long long MonotonicMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::shared_ptr<EtcdClient> Connect(const std::string& list) {
  EtcdClientOptions o;
  std::stringstream ss(list);
  std::string url;
  while (std::getline(ss, url, ',')) {
    auto ep = ParseEtcdEndpoint(url);
    if (!ep.ok()) {
      std::fprintf(stderr, "%s\n", ep.status().ToString().c_str());
      std::exit(2);
    }
    o.endpoints.push_back(*ep);
  }
  auto c = EtcdClient::Create(o);
  if (!c.ok()) {
    std::fprintf(stderr, "%s\n", c.status().ToString().c_str());
    std::exit(2);
  }
  return *c;
}

int Campaign(char** argv) {
  auto client = Connect(argv[0]);
  ElectionOptions o;
  o.key = argv[1];
  o.candidate = argv[2];
  o.ttl_seconds = std::stoll(argv[3]);
  std::mutex mu;
  auto election = EtcdElection::Start(client, o, [&](const ElectionStatus& s) {
    std::lock_guard lock(mu);
    std::printf("%lld leader=%d holder=%s term=%lld\n", MonotonicMs(), s.leader ? 1 : 0, s.leader_name.c_str(),
                static_cast<long long>(s.term));
    std::fflush(stdout);
  });
  // Bounded: the test kills or stops us long before.
  std::this_thread::sleep_for(std::chrono::minutes(10));
  return 0;
}

int WriteLeases(char** argv) {
  auto client = Connect(argv[0]);
  auto store = EtcdStore::Open(client, argv[1]);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 2;
  }
  const auto first = *Ipv4Address::Parse(argv[2]);
  const long count = std::stol(argv[3]);
  const int window = std::stoi(argv[4]);
  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  for (long i = 0; i < count; ++i) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return outstanding < window; });
      ++outstanding;
    }
    LeaseRecord l;
    l.ip = Ipv4Address{first.value + static_cast<std::uint32_t>(i)};
    l.mac = MacAddress{{0x52, 0x54, 0, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
                        static_cast<std::uint8_t>(i)}};
    l.expires_unix = 1'900'000'000;
    l.hostname = "peer";
    (*store)->PutLease(l, [&, ip = l.ip](const Status& st) {
      std::lock_guard lock(mu);
      if (st.ok()) {
        std::printf("%s\n", ip.ToString().c_str());
        std::fflush(stdout);
      }
      --outstanding;
      cv.notify_all();
    });
  }
  return (*store)->Flush().ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "campaign" && argc == 6) return Campaign(argv + 2);
  if (mode == "write-leases" && argc == 7) return WriteLeases(argv + 2);
  std::fprintf(stderr,
               "usage: %s campaign ENDPOINTS KEY NAME TTL\n"
               "       %s write-leases ENDPOINTS PREFIX FIRST_IP COUNT WINDOW\n",
               argv[0], argv[0]);
  return 2;
}
