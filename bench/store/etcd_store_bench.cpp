// Durable lease writes per second through EtcdStore on a real 3-member etcd
// cluster (Debian's etcd-server, members on one disk under /var/tmp, all in
// a network namespace of this process) next to SqliteStore on the same disk,
// in the same run: medians of several runs and their ratio.
//
// Writes go through the Store interface with W writes outstanding, as a
// DHCP server holding W ACKs until their leases are durable would. etcd
// commits a transaction once a majority of members have fsynced it; SQLite
// fsyncs its WAL. Both group-commit.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/store/sqlite_store.h"
#include "etcd/etcd_store.h"
#include "tests/etcd/etcd_cluster.h"

using namespace metalpxe;
using Clock = std::chrono::steady_clock;

namespace {

LeaseRecord Lease(std::uint32_t base, int i) {
  LeaseRecord l;
  l.ip = Ipv4Address{base + static_cast<std::uint32_t>(i)};
  l.mac = MacAddress{{0x52, 0x54, static_cast<std::uint8_t>(base >> 24), static_cast<std::uint8_t>(i >> 16),
                      static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)}};
  l.expires_unix = 1'900'000'000;
  l.hostname = "bench";
  return l;
}

// Writes `writes` leases with `window` outstanding; returns writes/s.
double Drive(Store& store, std::uint32_t base, int writes, int window) {
  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0, failed = 0;
  const auto start = Clock::now();
  for (int i = 0; i < writes; ++i) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return outstanding < window; });
      ++outstanding;
    }
    store.PutLease(Lease(base, i), [&](const Status& st) {
      std::lock_guard lock(mu);
      --outstanding;
      failed += !st.ok();
      cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return outstanding == 0; });
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  if (failed) std::fprintf(stderr, "  %d writes failed\n", failed);
  return writes / secs;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::unique_ptr<etcd::EtcdStore> OpenEtcd(const testing::EtcdCluster& cluster, const std::string& prefix,
                                          std::vector<int> members) {
  auto client = etcd::EtcdClient::Create(cluster.ClientOptionsFor(members));
  auto store = etcd::EtcdStore::Open(std::move(client).value(), prefix);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(store).value();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string scratch = argc > 1 ? argv[1] : "/var/tmp";
  const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  const int writes = argc > 3 ? std::atoi(argv[3]) : 20000;
  testing::EnterTestNetNs("bench");
  int status = 0;
  {
    testing::EtcdClusterOptions o;
    o.data_root = scratch;
    testing::EtcdCluster cluster(o);
    const std::string sqlite_dir = scratch + "/metalpxe-etcd-bench-sqlite";
    struct Series {
      const char* name;
      int window;
      std::vector<double> sqlite, etcd, etcd2;
    };
    std::vector<Series> series = {{"1 outstanding", 1, {}, {}, {}},
                                  {"64 outstanding", 64, {}, {}, {}},
                                  {"512 outstanding", 512, {}, {}, {}}};
    int prefix_n = 0;
    for (int r = 0; r < runs; ++r) {
      for (auto& s : series) {
        // One outstanding write is one commit per write: fewer of them.
        const int n = s.window == 1 ? std::max(200, writes / 50) : writes;
        std::filesystem::remove_all(sqlite_dir);
        {
          auto store = std::move(SqliteStore::Open(sqlite_dir)).value();
          sync();
          s.sqlite.push_back(Drive(*store, 0x0a000000u, n, s.window));
        }
        {
          auto store = OpenEtcd(cluster, "/bench-" + std::to_string(prefix_n++) + "/", {0, 1, 2});
          s.etcd.push_back(Drive(*store, 0x0a000000u, n, s.window));
        }
        {
          // Two appliances on one cluster, each writing its own subnet.
          const std::string prefix = "/bench-" + std::to_string(prefix_n++) + "/";
          auto a = OpenEtcd(cluster, prefix, {0, 1, 2});
          auto b = OpenEtcd(cluster, prefix, {1, 2, 0});
          double ra = 0, rb = 0;
          std::thread ta([&] { ra = Drive(*a, 0x0a000000u, n, s.window); });
          std::thread tb([&] { rb = Drive(*b, 0x0b000000u, n, s.window); });
          ta.join();
          tb.join();
          s.etcd2.push_back(ra + rb);
        }
        std::fprintf(stderr, "run %d, %s: sqlite %.0f/s, etcd %.0f/s, 2 x etcd %.0f/s\n", r, s.name,
                     s.sqlite.back(), s.etcd.back(), s.etcd2.back());
      }
    }
    std::filesystem::remove_all(sqlite_dir);
    std::printf("durable lease writes/s, median of %d runs (%d writes each; etcd 3-member cluster, "
                "SQLite WAL synchronous=FULL; %s)\n",
                runs, writes, scratch.c_str());
    std::printf("  %-16s %12s %12s %8s %22s\n", "window", "SqliteStore", "EtcdStore", "ratio", "2 appliances (sum)");
    for (const auto& s : series) {
      const double sq = Median(s.sqlite), et = Median(s.etcd), e2 = Median(s.etcd2);
      std::printf("  %-16s %12.0f %12.0f %7.2fx %22.0f\n", s.name, sq, et, et / sq, e2);
    }
  }
  testing::LeaveTestNetNs();
  return status;
}
