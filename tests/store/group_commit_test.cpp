// Group commit: writes from many threads share transactions (one fsync per
// batch), and every write still gets its own durable callback.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/store/sqlite_store.h"
#include "tests/store/store_test_util.h"

namespace metalpxe {
namespace {

using testing::TempDir;

constexpr int kThreads = 4;
constexpr int kPerThread = 2500;
constexpr int kTotal = kThreads * kPerThread;

LeaseRecord LeaseFor(int thread, int i) {
  LeaseRecord l;
  l.ip = Ipv4Address{0x0a000000u + static_cast<std::uint32_t>(thread) * 0x10000u + static_cast<std::uint32_t>(i)};
  l.mac = MacAddress{{0x52, 0x54, 0, static_cast<std::uint8_t>(thread), static_cast<std::uint8_t>(i >> 8),
                      static_cast<std::uint8_t>(i)}};
  l.expires_unix = 1'900'000'000 + i;
  return l;
}

// Counts callbacks; Wait() is bounded so a lost callback fails, not hangs.
class Acks {
 public:
  DurableCallback Callback() {
    return [this](const Status& st) {
      std::lock_guard lock(mu_);
      if (st.ok()) ++ok_; else ++failed_;
      cv_.notify_all();
    };
  }
  bool WaitFor(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(120), [&] { return ok_ + failed_ >= n; });
  }
  int ok() { std::lock_guard lock(mu_); return ok_; }
  int failed() { std::lock_guard lock(mu_); return failed_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int ok_ = 0, failed_ = 0;
};

void SubmitFromThreads(SqliteStore& store, Acks& acks) {
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) store.PutLease(LeaseFor(t, i), acks.Callback());
    });
  }
  for (auto& th : threads) th.join();
}

TEST(store_group_commit, FourThreadsTenThousandLeasesShareCommits) {
  TempDir dir;
  auto opened = SqliteStore::Open(dir.path());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& store = **opened;
  Acks acks;
  SubmitFromThreads(store, acks);
  ASSERT_TRUE(acks.WaitFor(kTotal));
  EXPECT_EQ(acks.ok(), kTotal);
  EXPECT_EQ(acks.failed(), 0);

  const auto stats = store.Stats();
  EXPECT_EQ(stats.writes, std::uint64_t(kTotal));
  // Each commit is one fsync; writes arrive far faster than fsyncs finish,
  // so they pile up and share commits.
  EXPECT_LT(stats.commits, stats.writes);
  std::printf("%d writes from %d threads: %llu commits, largest batch %llu\n", kTotal, kThreads,
              static_cast<unsigned long long>(stats.commits), static_cast<unsigned long long>(stats.largest_batch));
  auto leases = store.LoadLeases();
  ASSERT_TRUE(leases.ok());
  EXPECT_EQ(leases->size(), std::size_t(kTotal));
}

TEST(store_group_commit, WriterTakesEverythingQueuedInOneTransaction) {
  // Hold the writer inside a callback while the threads submit: when it is
  // free again all 10,000 writes are queued, and it must commit them as one
  // batch. Deterministic, whatever the disk's fsync speed.
  TempDir dir;
  auto opened = SqliteStore::Open(dir.path());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& store = **opened;
  std::mutex mu;
  std::condition_variable cv;
  bool submitted = false, gate_entered = false;
  store.AppendEvent({0, 1, "m", "test", "gate"}, [&](const Status&) {
    std::unique_lock lock(mu);
    gate_entered = true;
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(60), [&] { return submitted; });
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return gate_entered; }));
  }
  Acks acks;
  SubmitFromThreads(store, acks);
  {
    std::lock_guard lock(mu);
    submitted = true;
  }
  cv.notify_all();
  ASSERT_TRUE(acks.WaitFor(kTotal));
  EXPECT_EQ(acks.ok(), kTotal);
  const auto stats = store.Stats();
  EXPECT_EQ(stats.commits, 2u);  // the gate's own batch, then all 10,000 together
  EXPECT_EQ(stats.largest_batch, std::uint64_t(kTotal));
  EXPECT_EQ(stats.writes, std::uint64_t(kTotal + 1));
}

}  // namespace
}  // namespace metalpxe
