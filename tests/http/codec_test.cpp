// Pure parts of the HTTP server: Range header, HTTP dates, validators and
// preconditions, the file response plan, path confinement, log redaction.
#include <gtest/gtest.h>

#include <limits>

#include "http/asset_path.h"
#include "http/file_plan.h"
#include "http/file_validators.h"
#include "http/http_date.h"
#include "http/http_types.h"
#include "http/log_redaction.h"
#include "http/range_header.h"

namespace metalpxe::http {
namespace {

void ExpectPartial(std::string_view header, std::uint64_t size, std::uint64_t first, std::uint64_t length) {
  const auto d = EvaluateRange(header, size);
  EXPECT_EQ(d.outcome, RangeOutcome::kPartial) << header;
  EXPECT_EQ(d.first, first) << header;
  EXPECT_EQ(d.length, length) << header;
}
void ExpectOutcome(std::string_view header, std::uint64_t size, RangeOutcome outcome) {
  EXPECT_EQ(EvaluateRange(header, size).outcome, outcome) << header;
}

TEST(http_range, FirstMiddleOpenEndedSuffix) {
  ExpectPartial("bytes=0-99", 1000, 0, 100);
  ExpectPartial("bytes=100-199", 1000, 100, 100);
  ExpectPartial("bytes=100-", 1000, 100, 900);
  ExpectPartial("bytes=-100", 1000, 900, 100);
  ExpectPartial("bytes=999-999", 1000, 999, 1);
}

TEST(http_range, ClampsToTheFile) {
  ExpectPartial("bytes=900-5000", 1000, 900, 100);
  ExpectPartial("bytes=-5000", 1000, 0, 1000);
  ExpectPartial("bytes=0-18446744073709551615", 1000, 0, 1000);
  ExpectPartial("bytes=0-99999999999999999999999999", 1000, 0, 1000);  // saturates, no overflow
}

TEST(http_range, MultiGigabyteOffsets) {
  const std::uint64_t five_gib = 5ull << 30;
  ExpectPartial("bytes=5368709020-", five_gib, five_gib - 100, 100);
  ExpectPartial("bytes=-100", five_gib, five_gib - 100, 100);
}

TEST(http_range, ToleratesCaseAndWhitespace) {
  ExpectPartial("Bytes=0-9", 100, 0, 10);
  ExpectPartial("  bytes=0-9  ", 100, 0, 10);
  ExpectPartial("bytes= 0-9 ,", 100, 0, 10);  // empty list elements are allowed
}

TEST(http_range, Unsatisfiable) {
  ExpectOutcome("bytes=1000-", 1000, RangeOutcome::kUnsatisfiable);
  ExpectOutcome("bytes=5000-6000", 1000, RangeOutcome::kUnsatisfiable);
  ExpectOutcome("bytes=-0", 1000, RangeOutcome::kUnsatisfiable);
  ExpectOutcome("bytes=0-0", 0, RangeOutcome::kUnsatisfiable);
  ExpectOutcome("bytes=-10", 0, RangeOutcome::kUnsatisfiable);
  ExpectOutcome("bytes=99999999999999999999999-", 1000, RangeOutcome::kUnsatisfiable);
  ExpectOutcome("bytes=2000-,3000-", 1000, RangeOutcome::kUnsatisfiable);
}

TEST(http_range, InvalidIsIgnored) {
  for (const char* h : {"", "bytes", "bytes=", "bytes=,", "items=0-9", "bytes=a-b", "bytes=9-0", "bytes=0--9",
                        "bytes=-", "bytes=1", "bytes=0-9;x", "bytes=0x10-", "bytes=+1-2", "bytes 0-9"})
    ExpectOutcome(h, 1000, RangeOutcome::kFull);
}

TEST(http_range, MultiRangeGetsTheFullBody) {
  ExpectOutcome("bytes=0-9,20-29", 1000, RangeOutcome::kFull);
  ExpectOutcome("bytes=0-9,5000-", 1000, RangeOutcome::kFull);
  ExpectOutcome("bytes=0-9,x", 1000, RangeOutcome::kFull);
}

TEST(http_date, FormatsImfFixdate) {
  EXPECT_EQ(FormatHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(FormatHttpDate(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
}

TEST(http_date, ParsesAllThreeForms) {
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
  EXPECT_EQ(ParseHttpDate("Sun Nov  6 08:49:37 1994"), 784111777);
  EXPECT_EQ(ParseHttpDate("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400);
  for (std::int64_t t : {std::int64_t{0}, std::int64_t{1700000000}, std::int64_t{4102444799}})
    EXPECT_EQ(ParseHttpDate(FormatHttpDate(t)), t);
}

TEST(http_date, RejectsMalformed) {
  for (const char* s : {"", "yesterday", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC",
                        "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 29 Feb 2001 00:00:00 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
                        "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMTx"})
    EXPECT_FALSE(ParseHttpDate(s).has_value()) << s;
}

TEST(http_validators, IfNoneMatch) {
  const std::string etag = MakeETag(1000, 123456789);
  EXPECT_EQ(etag, "\"3e8-75bcd15\"");
  EXPECT_TRUE(IfNoneMatchMatches(etag, etag));
  EXPECT_TRUE(IfNoneMatchMatches("*", etag));
  EXPECT_TRUE(IfNoneMatchMatches("W/" + etag, etag));  // weak comparison
  EXPECT_TRUE(IfNoneMatchMatches("\"other\", " + etag, etag));
  EXPECT_TRUE(IfNoneMatchMatches("\"a,b\"," + etag, etag));  // comma inside a tag
  EXPECT_FALSE(IfNoneMatchMatches("\"other\"", etag));
  EXPECT_FALSE(IfNoneMatchMatches("3e8-75bcd15", etag));  // unquoted: malformed
  EXPECT_FALSE(IfNoneMatchMatches("\"3e8-75bcd15", etag));
}

TEST(http_validators, IfModifiedSinceAndIfRange) {
  const std::int64_t mtime = 784111777;
  EXPECT_TRUE(NotModifiedSince("Sun, 06 Nov 1994 08:49:37 GMT", mtime));
  EXPECT_TRUE(NotModifiedSince("Mon, 07 Nov 1994 08:49:37 GMT", mtime));
  EXPECT_FALSE(NotModifiedSince("Sat, 05 Nov 1994 08:49:37 GMT", mtime));
  EXPECT_FALSE(NotModifiedSince("garbage", mtime));

  const std::string etag = MakeETag(10, 5);
  EXPECT_TRUE(IfRangeAllowsRange(etag, etag, mtime));
  EXPECT_FALSE(IfRangeAllowsRange("W/" + etag, etag, mtime));
  EXPECT_FALSE(IfRangeAllowsRange("\"other\"", etag, mtime));
  EXPECT_TRUE(IfRangeAllowsRange("Sun, 06 Nov 1994 08:49:37 GMT", etag, mtime));
  EXPECT_FALSE(IfRangeAllowsRange("Mon, 07 Nov 1994 08:49:37 GMT", etag, mtime));
}

FileRequestHeaders Req(std::string_view range = {}, std::string_view if_none_match = {},
                       std::string_view if_modified_since = {}, std::string_view if_range = {}) {
  FileRequestHeaders h;
  h.range = range;
  h.if_none_match = if_none_match;
  h.if_modified_since = if_modified_since;
  h.if_range = if_range;
  return h;
}

std::string HeaderOf(const FilePlan& plan, std::string_view name) {
  for (const auto& [n, v] : plan.headers)
    if (n == name) return v;
  return "<absent>";
}

TEST(http_file_plan, FullPartialAndUnsatisfiable) {
  const std::int64_t mtime_ns = 784111777'000000000;
  auto full = PlanFileResponse({}, 1000, mtime_ns, "application/octet-stream");
  EXPECT_EQ(full.status, 200);
  EXPECT_EQ(full.length, 1000u);
  EXPECT_EQ(HeaderOf(full, "Accept-Ranges"), "bytes");
  EXPECT_EQ(HeaderOf(full, "Last-Modified"), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(HeaderOf(full, "ETag"), MakeETag(1000, mtime_ns));

  auto part = PlanFileResponse(Req("bytes=10-19"), 1000, mtime_ns, "x");
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.offset, 10u);
  EXPECT_EQ(part.length, 10u);
  EXPECT_EQ(HeaderOf(part, "Content-Range"), "bytes 10-19/1000");

  auto bad = PlanFileResponse(Req("bytes=1000-"), 1000, mtime_ns, "x");
  EXPECT_EQ(bad.status, 416);
  EXPECT_EQ(HeaderOf(bad, "Content-Range"), "bytes */1000");
}

TEST(http_file_plan, ConditionalRequests) {
  const std::int64_t mtime_ns = 784111777'500000000;
  const std::string etag = MakeETag(1000, mtime_ns);
  EXPECT_EQ(PlanFileResponse(Req({}, etag), 1000, mtime_ns, "x").status, 304);
  EXPECT_EQ(PlanFileResponse(Req({}, "\"nope\""), 1000, mtime_ns, "x").status, 200);
  EXPECT_EQ(PlanFileResponse(Req({}, {}, "Sun, 06 Nov 1994 08:49:37 GMT"), 1000, mtime_ns, "x").status, 304);
  EXPECT_EQ(PlanFileResponse(Req({}, {}, "Sun, 06 Nov 1994 08:49:36 GMT"), 1000, mtime_ns, "x").status, 200);
  // If-None-Match wins over If-Modified-Since when both are present.
  EXPECT_EQ(PlanFileResponse(Req({}, "\"nope\"", "Sun, 06 Nov 1994 08:49:37 GMT"), 1000,
                             mtime_ns, "x")
                .status,
            200);
  // If-Range: a matching validator keeps the range, a stale one gets the full body.
  EXPECT_EQ(PlanFileResponse(Req("bytes=0-9", {}, {}, etag), 1000, mtime_ns, "x").status, 206);
  EXPECT_EQ(PlanFileResponse(Req("bytes=0-9", {}, {}, "\"old\""), 1000, mtime_ns, "x").status, 200);
  EXPECT_EQ(
      PlanFileResponse(Req("bytes=0-9", {}, {}, "Sun, 06 Nov 1994 08:49:37 GMT"), 1000, mtime_ns, "x").status,
      206);
}

TEST(http_asset_path, RefusesTraversal) {
  EXPECT_EQ(SanitizeRelativePath("talos/vmlinuz"), "talos/vmlinuz");
  EXPECT_EQ(SanitizeRelativePath("/a//b/"), "a/b");
  EXPECT_EQ(SanitizeRelativePath(""), "");
  EXPECT_EQ(SanitizeRelativePath("..a/b..c/...d"), "..a/b..c/...d");  // dots inside names are fine
  for (const char* p : {"..", "../etc/passwd", "a/../../b", "a/..", "./a", "a/./b", "a\\..\\b"})
    EXPECT_FALSE(SanitizeRelativePath(p).has_value()) << p;
  EXPECT_FALSE(SanitizeRelativePath(std::string_view("a\0b", 3)).has_value());
}

TEST(http_asset_path, WithinRoot) {
  EXPECT_TRUE(IsWithinRoot("/srv/assets", "/srv/assets/a"));
  EXPECT_TRUE(IsWithinRoot("/srv/assets", "/srv/assets"));
  EXPECT_TRUE(IsWithinRoot("/", "/etc/passwd"));
  EXPECT_FALSE(IsWithinRoot("/srv/assets", "/srv/assets2/a"));
  EXPECT_FALSE(IsWithinRoot("/srv/assets", "/etc/passwd"));
  EXPECT_FALSE(IsWithinRoot("", "/etc/passwd"));
}

TEST(http_asset_path, ContentTypes) {
  EXPECT_EQ(ContentTypeForPath("snponly.efi"), "application/octet-stream");
  EXPECT_EQ(ContentTypeForPath("undionly.kpxe"), "application/octet-stream");
  EXPECT_EQ(ContentTypeForPath("dir.x/vmlinuz"), "application/octet-stream");
  EXPECT_EQ(ContentTypeForPath("boot.ipxe"), "text/plain");
  EXPECT_EQ(ContentTypeForPath("BOOT.IPXE"), "text/plain");
}

TEST(http_log, RedactsConfigTokensAndQueries) {
  EXPECT_EQ(PathForLog("/config/s3cr3t-token"), "/config/<redacted>");
  EXPECT_EQ(PathForLog("/assets/a\nb"), "/assets/a?b");
  EXPECT_EQ(PathForLog(std::string(300, 'a')).size(), 259u);
  const auto text = RedactFreeText("Failed to send data in request for `/config/s3cr3t'. and /ipxe?mac=aa&tok=s3cr3t x");
  EXPECT_EQ(text.find("s3cr3t"), std::string::npos) << text;
  EXPECT_NE(text.find("/config/<redacted>"), std::string::npos) << text;
}

TEST(http_types, CaseInsensitiveHeaders) {
  HttpRequest r;
  r.headers["User-Agent"] = "iPXE/1.21";
  EXPECT_EQ(r.Header("user-agent"), "iPXE/1.21");
  EXPECT_EQ(r.Header("USER-AGENT"), "iPXE/1.21");
  EXPECT_TRUE(r.HasHeader("user-Agent"));
  EXPECT_EQ(r.Header("Range"), "");
  r.query["mac"] = "52-54-00-12-34-56";
  EXPECT_EQ(r.Query("mac"), "52-54-00-12-34-56");
  EXPECT_EQ(r.Query("uuid"), "");
}

}  // namespace
}  // namespace metalpxe::http
