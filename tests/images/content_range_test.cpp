#include "images/content_range.h"

#include <gtest/gtest.h>

namespace metalpxe {
namespace {

TEST(images_content_range, Valid) {
  auto r = ParseContentRange("bytes 100-199/1000");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 100u);
  EXPECT_EQ(r->last, 199u);
  EXPECT_EQ(r->total, 1000u);
  r = ParseContentRange("  Bytes 0-0/*\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->last, 0u);
  EXPECT_FALSE(r->total);
  r = ParseContentRange("bytes 0-18446744073709551614/18446744073709551615");
  ASSERT_FALSE(r);  // 20 digits: refused rather than risking overflow
  r = ParseContentRange("bytes 0-999999999999999998/999999999999999999");
  ASSERT_TRUE(r);
}

TEST(images_content_range, Invalid) {
  for (const char* bad : {"", "bytes", "bytes ", "bytes */1000", "bytes 5-4/10", "bytes 0-10/10", "bytes -5/10",
                          "bytes 1-/10", "bytes 1-2", "items 1-2/3", "bytes 1-2/x", "bytes +1-2/3", "bytes 1 -2/3",
                          "bytes 99999999999999999999-1/2"}) {
    EXPECT_FALSE(ParseContentRange(bad)) << bad;
  }
}

}  // namespace
}  // namespace metalpxe
