// The status page's authentication pieces: the form and cookie parsers, the
// PBKDF2 password file, and the bounded session table (only a login makes a
// session, so unauthenticated clients cannot evict anyone).
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "tests/store/store_test_util.h"
#include "ui/ui_form.h"
#include "ui/ui_password.h"
#include "ui/ui_sessions.h"

namespace metalpxe::ui {
namespace {

TEST(ui_form, FieldsAreDecodedFirstWinsBadEscapesRefused) {
  EXPECT_EQ(FormField("password=hunter2%21+x&other=1", "password"), "hunter2! x");
  EXPECT_EQ(FormField("a=1&password=&password=2", "password"), "");
  EXPECT_EQ(FormField("pass%77ord=yes", "password"), "yes");  // names are decoded too
  EXPECT_FALSE(FormField("password=%2", "password"));
  EXPECT_FALSE(FormField("password=%zz", "password"));
  EXPECT_FALSE(FormField("other=1", "password"));
  EXPECT_EQ(FormField("password", "password"), "");
  EXPECT_FALSE(FormField("password=" + std::string(kMaxFormBytes, 'a'), "password"));
  EXPECT_EQ(FormField(std::string("password=a%00b", 14), "password"), std::string("a\0b", 3));
}

TEST(ui_form, CookiesByNameTrimmedQuotesRemoved) {
  EXPECT_EQ(CookieValue("a=1; metalpxe_session=abc; b=2", "metalpxe_session"), "abc");
  EXPECT_EQ(CookieValue("metalpxe_session=\"q\"", "metalpxe_session"), "q");
  EXPECT_EQ(CookieValue(" metalpxe_session = x ;", "metalpxe_session"), "x");
  EXPECT_FALSE(CookieValue("metalpxe_sessionx=1; xmetalpxe_session=2", "metalpxe_session"));
  EXPECT_FALSE(CookieValue("", "metalpxe_session"));
  EXPECT_FALSE(CookieValue(";;;=;", "metalpxe_session"));
}

TEST(ui_password, HashVerifiesOnlyItsPasswordAndMalformedLinesNever) {
  auto line = HashUiPassword("correct horse", 1000);
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(line->rfind("pbkdf2-sha256$1000$", 0), 0u) << *line;
  EXPECT_EQ(line->find("correct"), std::string::npos);
  EXPECT_TRUE(VerifyUiPassword("correct horse", *line));
  EXPECT_TRUE(VerifyUiPassword("correct horse", *line + "\n"));
  EXPECT_FALSE(VerifyUiPassword("correct horsE", *line));
  EXPECT_FALSE(VerifyUiPassword("", *line));
  // Salted: the same password hashes differently each time.
  EXPECT_NE(*HashUiPassword("correct horse", 1000), *line);
  for (const char* bad : {"", "pbkdf2-sha256$1000$00$", "md5$1$00$00", "pbkdf2-sha256$0$0011$" /*no iterations*/,
                          "pbkdf2-sha256$x$00$00", "pbkdf2-sha256$1000$zz$00", "pbkdf2-sha256$1000$00$00$00"})
    EXPECT_FALSE(VerifyUiPassword("correct horse", bad)) << bad;
}

TEST(ui_password, FileIsPrivateAndTooShortRefused) {
  metalpxe::testing::TempDir dir;
  EXPECT_EQ(ReadUiPasswordFile(dir.path()).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(WriteUiPasswordFile(dir.path(), "short").code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(WriteUiPasswordFile(dir.path(), "long enough").ok());
  struct stat st {};
  ASSERT_EQ(::stat(dir.Sub(kUiPasswordFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto line = ReadUiPasswordFile(dir.path());
  ASSERT_TRUE(line.ok());
  EXPECT_TRUE(VerifyUiPassword("long enough", *line));
}

TEST(ui_sessions, BoundedLeastRecentlyUsedGoesExpiredOnesToo) {
  UiSessionOptions o;
  o.max_sessions = 3;
  o.idle = std::chrono::seconds(60);
  o.lifetime = std::chrono::seconds(600);
  UiSessions s(o);
  auto t = UiSessions::Clock::now();
  const auto a = s.Create(t), b = s.Create(t + std::chrono::seconds(1)), c = s.Create(t + std::chrono::seconds(2));
  EXPECT_EQ(a.size(), 64u);
  EXPECT_TRUE(s.Check(a, t + std::chrono::seconds(3)));  // a is now the most recently used
  const auto d = s.Create(t + std::chrono::seconds(4));  // full: b (least recently used) goes
  EXPECT_EQ(s.size(), 3u);
  EXPECT_TRUE(s.Check(a, t + std::chrono::seconds(5)));
  EXPECT_FALSE(s.Check(b, t + std::chrono::seconds(5)));
  EXPECT_TRUE(s.Check(c, t + std::chrono::seconds(5)));
  EXPECT_TRUE(s.Check(d, t + std::chrono::seconds(5)));
  // Idle too long.
  EXPECT_FALSE(s.Check(c, t + std::chrono::seconds(70)));
  // Used often, but past its lifetime.
  for (int i = 1; i <= 12; ++i) EXPECT_TRUE(s.Check(a, t + std::chrono::seconds(50 * i))) << i;
  EXPECT_FALSE(s.Check(a, t + std::chrono::seconds(601)));
  s.Remove(d);
  EXPECT_FALSE(s.Check(d, t + std::chrono::seconds(5)));
}

TEST(ui_sessions, GuessesNeverCreateOrEvict) {
  UiSessionOptions o;
  o.max_sessions = 2;
  UiSessions s(o);
  const auto a = s.Create();
  for (int i = 0; i < 10000; ++i) EXPECT_FALSE(s.Check(std::string(64, "0123456789abcdef"[i % 16])));
  EXPECT_FALSE(s.Check("short"));
  EXPECT_EQ(s.size(), 1u);
  EXPECT_TRUE(s.Check(a));
}

}  // namespace
}  // namespace metalpxe::ui
