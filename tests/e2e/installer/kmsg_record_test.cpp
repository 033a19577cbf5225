#include "tests/e2e/installer/kmsg_record.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace metalpxe::standin {
namespace {

TEST(StandinKmsgRecord, ParsesKernelRecord) {
  auto r = ParseKmsgRecord("6,339,5140900,-;NET: Registered protocol family 10\n SUBSYSTEM=net\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->facility, 0);
  EXPECT_EQ(r->level, 6);
  EXPECT_EQ(r->seq, 339u);
  EXPECT_EQ(r->clock_usec, 5140900u);
  EXPECT_EQ(r->message, "NET: Registered protocol family 10");
}

TEST(StandinKmsgRecord, UserFacilityExtraFieldsAndEscapes) {
  auto r = ParseKmsgRecord("12,7,99,-,caller=T1;tab\\x09here\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->facility, 1);
  EXPECT_EQ(r->level, 4);
  EXPECT_EQ(r->message, "tab\there");
  auto partial = ParseKmsgRecord("6,1,2,-;trailing \\x");
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->message, "trailing \\x");
}

TEST(StandinKmsgRecord, RejectsMalformed) {
  EXPECT_FALSE(ParseKmsgRecord("").ok());
  EXPECT_FALSE(ParseKmsgRecord("no semicolon").ok());
  EXPECT_FALSE(ParseKmsgRecord("6,1;x").ok());
  EXPECT_FALSE(ParseKmsgRecord("a,1,2,-;x").ok());
  EXPECT_FALSE(ParseKmsgRecord("99999,1,2,-;x").ok());
  EXPECT_FALSE(ParseKmsgRecord("6,1,,-;x").ok());
}

TEST(StandinKmsgRecord, TalosJsonLine) {
  KmsgRecord r{0, 3, 42, 1'500'000, "disk \xff error"};
  const std::string line = TalosKmsgJsonLine(r, 1'700'000'000'000'000ull);
  ASSERT_EQ(line.back(), '\n');
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["clock"], 1'500'000u);
  EXPECT_EQ(j["facility"], "kern");
  EXPECT_EQ(j["priority"], "err");
  EXPECT_EQ(j["seq"], 42u);
  EXPECT_EQ(j["talos-level"], "error");
  EXPECT_EQ(j["talos-time"], "2023-11-14T22:13:21.500000Z");
  EXPECT_EQ(j.size(), 7u);
}

TEST(StandinKmsgRecord, Names) {
  EXPECT_EQ(FacilityName(23), "local7");
  EXPECT_EQ(FacilityName(99), "unknown");
  EXPECT_EQ(PriorityName(0), "emerg");
  EXPECT_EQ(TalosLevelName(2), "panic");
  EXPECT_EQ(TalosLevelName(4), "warn");
  EXPECT_EQ(TalosLevelName(5), "info");
  EXPECT_EQ(TalosLevelName(7), "debug");
}

}  // namespace
}  // namespace metalpxe::standin
