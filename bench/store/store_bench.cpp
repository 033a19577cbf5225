// Durable lease writes per second: SqliteStore's group commit against the
// straightforward alternative, one transaction (and so one fsync) per write,
// on the same file system, schema and pragmas (WAL, synchronous=FULL).
//
// Group commit runs with W writes outstanding at a time, as a DHCP server
// holding W ACKs until their leases are durable would.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "core/store/sqlite_store.h"

using namespace metalpxe;
using Clock = std::chrono::steady_clock;

namespace {

LeaseRecord Lease(int i) {
  LeaseRecord l;
  l.ip = Ipv4Address{0x0a000000u + static_cast<std::uint32_t>(i)};
  l.mac = MacAddress{{0x52, 0x54, 0, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
                      static_cast<std::uint8_t>(i)}};
  l.expires_unix = 1'900'000'000;
  return l;
}

double GroupCommit(const std::string& dir, int writes, int window) {
  std::filesystem::remove_all(dir);
  auto store = std::move(SqliteStore::Open(dir)).value();
  sync();  // start every mode with the previous run's deletes already on disk
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
    store->PutLease(Lease(i), [&](const Status& st) {
      std::lock_guard lock(mu);
      --outstanding;
      failed += !st.ok();
      cv.notify_all();
    });
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return outstanding == 0; });
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  const auto stats = store->Stats();
  std::fprintf(stderr, "  group commit window %d: %d writes, %llu commits, %d failed, %.3f s\n", window, writes,
               static_cast<unsigned long long>(stats.commits), failed, secs);
  return writes / secs;
}

double OneFsyncPerWrite(const std::string& dir, int writes) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  { auto s = SqliteStore::Open(dir); }  // same schema
  sqlite3* db = nullptr;
  sqlite3_open((dir + "/metalpxe.db").c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", nullptr, nullptr, nullptr);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT OR REPLACE INTO leases (ip, mac, client_id, expires, hostname, kind) "
                     "VALUES (?1, ?2, '', ?3, '', 'active')",
                     -1, &stmt, nullptr);
  sync();
  const auto start = Clock::now();
  for (int i = 0; i < writes; ++i) {
    const auto l = Lease(i);
    const std::string ip = l.ip.ToString(), mac = l.mac.ToString();
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    sqlite3_bind_text(stmt, 1, ip.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, mac.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 3, l.expires_unix);
    sqlite3_step(stmt);
    sqlite3_reset(stmt);
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  std::fprintf(stderr, "  one fsync per write: %d writes, %.3f s\n", writes, secs);
  return writes / secs;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/var/tmp/metalpxe-store-bench";
  const int runs = 5;
  const int group_writes = 50000, single_writes = 2000;
  std::vector<double> single, w1, w64, w512;
  for (int r = 0; r < runs; ++r) {
    single.push_back(OneFsyncPerWrite(dir, single_writes));
    w1.push_back(GroupCommit(dir, single_writes, 1));
    w64.push_back(GroupCommit(dir, group_writes, 64));
    w512.push_back(GroupCommit(dir, group_writes, 512));
  }
  std::filesystem::remove_all(dir);
  const double base = Median(single);
  std::printf("durable lease writes/s, median of %d runs (WAL, synchronous=FULL, %s)\n", runs, dir.c_str());
  std::printf("  one transaction+fsync per write (baseline): %10.0f /s\n", base);
  std::printf("  SqliteStore, 1 outstanding:                 %10.0f /s  (x%.1f)\n", Median(w1), Median(w1) / base);
  std::printf("  SqliteStore, 64 outstanding:                %10.0f /s  (x%.1f)\n", Median(w64), Median(w64) / base);
  std::printf("  SqliteStore, 512 outstanding:               %10.0f /s  (x%.1f)\n", Median(w512),
              Median(w512) / base);
  return 0;
}
