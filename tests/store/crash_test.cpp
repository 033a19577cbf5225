// Crash consistency: a child process writes leases as fast as it can and,
// from each durable callback, reports the acknowledged address on a pipe.
// The parent kills it with SIGKILL mid-run, reopens the database and checks
// that every acknowledged lease is there and the file is intact. Three
// rounds on the same file, so later rounds also recover an earlier crash.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "core/store/sqlite_db.h"
#include "core/store/sqlite_store.h"
#include "tests/store/store_test_util.h"

namespace metalpxe {
namespace {

using testing::TempDir;

MacAddress MacFor(std::uint32_t ip) {
  return MacAddress{{0x52, 0x54, static_cast<std::uint8_t>(ip >> 24), static_cast<std::uint8_t>(ip >> 16),
                     static_cast<std::uint8_t>(ip >> 8), static_cast<std::uint8_t>(ip)}};
}

// Runs in the forked child; never returns.
[[noreturn]] void WriterChild(const std::string& dir, std::uint32_t first_ip, int ack_fd) {
  auto store = SqliteStore::Open(dir);
  if (!store.ok()) _exit(2);
  std::atomic<int> in_flight{0};
  // Bounded: the parent kills us long before this runs out.
  for (std::uint32_t i = 0; i < 5'000'000; ++i) {
    const std::uint32_t ip = first_ip + i;
    LeaseRecord l{Ipv4Address{ip}, MacFor(ip), "", 1'900'000'000, "crash-test", LeaseRecord::Kind::kActive};
    ++in_flight;
    (*store)->PutLease(l, [&in_flight, ip, ack_fd](const Status& st) {
      // Only after the durable callback said ok does the address count as acknowledged.
      if (st.ok()) {
        if (write(ack_fd, &ip, sizeof ip) != sizeof ip) _exit(3);
      }
      --in_flight;
    });
    // Like a DHCP server, keep a bounded number of writes outstanding.
    while (in_flight.load() > 512) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  _exit(0);
}

// Reads whole 4-byte addresses from fd into `acked` until `want` are read
// (returns true) or EOF/timeout (false). `partial` keeps split reads.
bool ReadAcks(int fd, std::set<std::uint32_t>& acked, std::string& partial, std::size_t want,
              std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (acked.size() < want) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return false;  // EOF: the child is gone
    partial.append(buf, static_cast<std::size_t>(n));
    std::size_t off = 0;
    for (; off + 4 <= partial.size(); off += 4) {
      std::uint32_t ip;
      std::memcpy(&ip, partial.data() + off, 4);
      acked.insert(ip);
    }
    partial.erase(0, off);
  }
  return true;
}

TEST(store_crash, EveryAcknowledgedLeaseSurvivesKillDashNine) {
  TempDir dir;
  std::set<std::uint32_t> all_acked;
  for (int round = 0; round < 3; ++round) {
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    const std::uint32_t first_ip = 0x0a000000u + static_cast<std::uint32_t>(round) * 0x01000000u;
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      WriterChild(dir.path(), first_ip, fds[1]);
    }
    close(fds[1]);
    std::set<std::uint32_t> acked;
    std::string partial;
    // Let it get well into its stride (different amounts per round) ...
    const std::size_t kill_after = 2000 + static_cast<std::size_t>(round) * 1500;
    const bool reached = ReadAcks(fds[0], acked, partial, kill_after, std::chrono::seconds(60));
    // ... then kill it without warning, in the middle of whatever it was doing.
    kill(child, SIGKILL);
    int wstatus = 0;
    ASSERT_EQ(waitpid(child, &wstatus, 0), child);
    ASSERT_TRUE(reached) << "child stopped early, status " << wstatus << " after " << acked.size() << " acks";
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) << "status " << wstatus;
    // Acks already in the pipe were sent before the kill: they count too.
    ReadAcks(fds[0], acked, partial, SIZE_MAX, std::chrono::seconds(10));
    close(fds[0]);
    all_acked.insert(acked.begin(), acked.end());

    {
      auto raw = SqliteDb::Open(dir.Sub(SqliteStore::kFileName), false);
      ASSERT_TRUE(raw.ok()) << raw.status().ToString();
      auto integrity = raw->QueryText("PRAGMA integrity_check");
      ASSERT_TRUE(integrity.ok()) << integrity.status().ToString();
      EXPECT_EQ(*integrity, "ok");
    }
    auto store = SqliteStore::Open(dir.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto leases = (*store)->LoadLeases();
    ASSERT_TRUE(leases.ok()) << leases.status().ToString();
    std::set<std::uint32_t> present;
    for (const auto& l : *leases) {
      present.insert(l.ip.value);
      EXPECT_EQ(l.mac, MacFor(l.ip.value));  // no torn rows
    }
    std::size_t missing = 0;
    for (auto ip : all_acked) missing += present.count(ip) == 0;
    EXPECT_EQ(missing, 0u) << "round " << round << ": " << missing << " of " << all_acked.size()
                           << " acknowledged leases lost";
    // Unacknowledged writes may or may not have made it; nothing else may appear.
    EXPECT_GE(present.size(), all_acked.size());
    std::printf("round %d: %zu acknowledged this round, %zu rows present\n", round, acked.size(), present.size());
  }
}

}  // namespace
}  // namespace metalpxe
