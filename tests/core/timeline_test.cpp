// MachineTimeline (core/timeline.h) over a real SqliteStore: bounded per
// machine in memory and in the store, kept across a restart, repeats
// collapsed, no token in any text, a MAC flood cannot push out history.
#include "core/timeline.h"

#include <gtest/gtest.h>

#include "core/store/sqlite_store.h"
#include "tests/store/store_test_util.h"

namespace metalpxe {
namespace {

using metalpxe::testing::TempDir;

MacAddress TlMac(const char* s) { return *MacAddress::Parse(s); }

struct FakeClock {
  std::int64_t now = 1'800'000'000'000;
  MachineTimeline::Clock fn() {
    return [this] { return now; };
  }
};

TEST(timeline, BoundedPerMachineInMemoryAndInTheStoreAndKeptAcrossRestart) {
  TempDir dir;
  FakeClock clock;
  const auto a = TlMac("52:54:00:00:00:0a"), b = TlMac("52:54:00:00:00:0b");
  MachineTimelineOptions opts;
  opts.max_entries = 8;
  {
    auto store = SqliteStore::Open(dir.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    MachineTimeline tl(store->get(), opts, clock.fn());
    for (int i = 0; i < 30; ++i) {
      clock.now += 10'000;
      ASSERT_TRUE(tl.Record(a, TimelineSource::kDhcp, "step " + std::to_string(i)));
    }
    clock.now += 10'000;
    ASSERT_TRUE(tl.Record(b, TimelineSource::kTftp, "TFTP ipxe.efi", "bytes=1024"));
    auto mem = tl.Entries(a);
    ASSERT_EQ(mem.size(), 8u);
    EXPECT_EQ(mem.front().summary, "step 22");
    EXPECT_EQ(mem.back().summary, "step 29");
    for (std::size_t i = 1; i < mem.size(); ++i) EXPECT_GT(mem[i].seq, mem[i - 1].seq);
    ASSERT_TRUE((*store)->Flush().ok());
    // The store is trimmed in chunks: never more than the bound plus a chunk.
    auto stored = (*store)->LoadTimeline(a, 1000);
    ASSERT_TRUE(stored.ok());
    EXPECT_GE(stored->size(), 8u);
    EXPECT_LE(stored->size(), 8u + 2u);
  }
  auto store = SqliteStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  MachineTimeline tl(store->get(), opts, clock.fn());
  ASSERT_TRUE(tl.Load({a, b, TlMac("52:54:00:00:00:0c")}).ok());
  auto mem = tl.Entries(a);
  ASSERT_EQ(mem.size(), 8u);
  EXPECT_EQ(mem.front().summary, "step 22");
  EXPECT_EQ(tl.Entries(b).size(), 1u);
  EXPECT_EQ(tl.Entries(b)[0].details, "bytes=1024");
  EXPECT_TRUE(tl.Entries(TlMac("52:54:00:00:00:0c")).empty());
  // New entries after the restart come after the old ones even if the
  // clock went back.
  clock.now -= 1'000'000;
  ASSERT_TRUE(tl.Record(a, TimelineSource::kState, "after restart"));
  mem = tl.Entries(a);
  EXPECT_EQ(mem.back().summary, "after restart");
  EXPECT_GT(mem.back().seq, mem[mem.size() - 2].seq);
  EXPECT_EQ(tl.Entries(a, 3).size(), 3u);
  EXPECT_EQ(tl.Entries(a, 3).back().summary, "after restart");
}

TEST(timeline, RepeatsAreCountedOnTheLastEntryAndStoredSo) {
  TempDir dir;
  FakeClock clock;
  const auto a = TlMac("52:54:00:00:00:0a");
  {
    auto store = SqliteStore::Open(dir.path());
    ASSERT_TRUE(store.ok());
    MachineTimeline tl(store->get(), {}, clock.fn());
    const auto first_time = clock.now;
    // A machine held in a discover loop asks every 15 s: one entry, counted.
    for (int i = 0; i < 100; ++i) {
      EXPECT_TRUE(tl.Record(a, TimelineSource::kHttp, "GET /ipxe: discover", "decision=discover"));
      clock.now += 15'000;
    }
    EXPECT_TRUE(tl.Record(a, TimelineSource::kHttp, "GET /ipxe: install", "decision=install"));
    // Same summary, other details: a new entry.
    EXPECT_TRUE(tl.Record(a, TimelineSource::kHttp, "GET /ipxe: install", "decision=install peer=x"));
    auto mem = tl.Entries(a);
    ASSERT_EQ(mem.size(), 3u);
    EXPECT_EQ(mem[0].repeats, 99u);
    EXPECT_EQ(mem[0].time_unix_ms, first_time);
    EXPECT_EQ(mem[0].last_unix_ms, first_time + 99 * 15'000);
    EXPECT_EQ(mem[1].repeats, 0u);
    // 15 s apart: each repeat was written; a storm within the write
    // interval is not, yet its count is kept in memory and written with
    // the next entry.
    for (int i = 0; i < 1000; ++i) {
      clock.now += 1;
      tl.Record(a, TimelineSource::kDhcp, "DHCP DISCOVER from firmware", "");
    }
    EXPECT_EQ(tl.Entries(a).back().repeats, 999u);
    clock.now += 10;
    tl.Record(a, TimelineSource::kDhcp, "DHCP REQUEST from firmware", "");
    ASSERT_TRUE((*store)->Flush().ok());
    EXPECT_LT((*store)->Stats().writes, 300u) << "a storm of repeats is not a write each";
  }
  auto store = SqliteStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  auto stored = (*store)->LoadTimeline(a, 10);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 5u);
  EXPECT_EQ((*stored)[0].repeats, 99u);
  EXPECT_EQ((*stored)[3].repeats, 999u) << "the storm's count was written with the next entry";
}

TEST(timeline, TextIsCleanedTokensRedactedAndBounded) {
  MachineTimeline tl(nullptr);
  const auto a = TlMac("52:54:00:00:00:0a");
  const std::string token_url = "GET http://10.66.0.1:8080/config/AbC-123_xyz granted";
  ASSERT_TRUE(tl.Record(a, TimelineSource::kHttp, token_url, std::string("line\x01two\nthree\xff", 16)));
  const auto e = tl.Entries(a).at(0);
  EXPECT_EQ(e.summary, "GET http://10.66.0.1:8080/config/<redacted> granted");
  EXPECT_EQ(e.details, "linetwo three");
  ASSERT_TRUE(tl.Record(a, TimelineSource::kKmsg, std::string(1000, 'x') + "é"));
  EXPECT_EQ(tl.Entries(a).back().summary.size(), 200u);
  // A multi-byte character is never cut in half.
  EXPECT_EQ(CleanTimelineText(std::string(199, 'x') + "é", 200), std::string(199, 'x'));
}

TEST(timeline, AMacFloodCannotPushOutKnownMachines) {
  MachineTimelineOptions opts;
  opts.max_machines = 3;
  MachineTimeline tl(nullptr, opts);
  const auto known = TlMac("52:54:00:00:00:01");
  ASSERT_TRUE(tl.Record(known, TimelineSource::kDhcp, "first"));
  int kept = 0;
  for (unsigned i = 0; i < 100; ++i) {
    MacAddress m = TlMac("02:00:00:00:00:00");
    m.bytes[5] = static_cast<std::uint8_t>(i);
    kept += tl.Record(m, TimelineSource::kDhcp, "flood") ? 1 : 0;
  }
  EXPECT_EQ(kept, 2);
  EXPECT_EQ(tl.dropped_machines(), 98u);
  EXPECT_TRUE(tl.Record(known, TimelineSource::kDhcp, "still recorded"));
}

TEST(timeline, ListenersSeeEveryKeptEntry) {
  MachineTimeline tl(nullptr);
  std::vector<std::string> seen;
  const int id = tl.Subscribe([&](const TimelineEntry& e) {
    seen.push_back(e.summary + (e.repeats ? " x" + std::to_string(e.repeats) : ""));
  });
  const auto a = TlMac("52:54:00:00:00:0a");
  tl.Record(a, TimelineSource::kPower, "power on");
  tl.Record(a, TimelineSource::kPower, "power on");  // a repeat: the same entry again, counted
  tl.Unsubscribe(id);
  tl.Record(a, TimelineSource::kState, "after");
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1], "power on x1");
}

TEST(timeline, SourceNamesRoundTrip) {
  for (int i = 0; i < 7; ++i) {
    const auto s = static_cast<TimelineSource>(i);
    EXPECT_EQ(ParseTimelineSource(TimelineSourceName(s)), s);
  }
  EXPECT_FALSE(ParseTimelineSource("ftp"));
}

}  // namespace
}  // namespace metalpxe
