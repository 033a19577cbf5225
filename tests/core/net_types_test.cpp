#include "core/net_types.h"

#include <gtest/gtest.h>

namespace metalpxe {
namespace {

TEST(MacAddress, AcceptsColonHyphenAndCaseAndCanonicalises) {
  auto a = MacAddress::Parse("52:54:00:AB:cd:EF");
  auto b = MacAddress::Parse("52-54-00-ab-CD-ef");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->ToString(), "52:54:00:ab:cd:ef");
  EXPECT_EQ(a->ToHyphenString(), "52-54-00-ab-cd-ef");
}

TEST(MacAddress, RejectsMalformed) {
  for (const char* bad : {"", "52:54:00:ab:cd", "52:54:00:ab:cd:ef:01", "52:54-00:ab:cd:ef", "52:54:00:ab:cd:eg",
                          "5254.00ab.cdef", "52:54:00:ab:cd:e"}) {
    EXPECT_FALSE(MacAddress::Parse(bad)) << bad;
  }
}

TEST(Ipv4, ParsesAndRejects) {
  EXPECT_EQ(Ipv4Address::Parse("10.66.0.1")->ToString(), "10.66.0.1");
  for (const char* bad : {"", "10.66.0", "10.66.0.256", "10.66.0.1.2", "010.1.1.1", "a.b.c.d", "1..1.1", "1.1.1.1 "})
    EXPECT_FALSE(Ipv4Address::Parse(bad)) << bad;
}

TEST(Ipv4Cidr, ContainsAndRejectsHostBits) {
  auto c = Ipv4Cidr::Parse("10.66.0.0/24");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->Contains(*Ipv4Address::Parse("10.66.0.200")));
  EXPECT_FALSE(c->Contains(*Ipv4Address::Parse("10.66.1.1")));
  EXPECT_EQ(c->Broadcast().ToString(), "10.66.0.255");
  EXPECT_EQ(c->Netmask().ToString(), "255.255.255.0");
  EXPECT_FALSE(Ipv4Cidr::Parse("10.66.0.1/24"));
  EXPECT_FALSE(Ipv4Cidr::Parse("10.66.0.0/33"));
  EXPECT_TRUE(Ipv4Cidr::Parse("0.0.0.0/0"));
}

TEST(Ipv4Range, ParsesOrderedRanges) {
  auto r = Ipv4Range::Parse("10.66.0.100-10.66.0.200");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->Size(), 101u);
  EXPECT_FALSE(Ipv4Range::Parse("10.66.0.200-10.66.0.100"));
  EXPECT_TRUE(r->Overlaps(*Ipv4Range::Parse("10.66.0.200-10.66.0.250")));
  EXPECT_FALSE(r->Overlaps(*Ipv4Range::Parse("10.66.0.201-10.66.0.250")));
}

}  // namespace
}  // namespace metalpxe
