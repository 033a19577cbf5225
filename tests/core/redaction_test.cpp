#include "core/redaction.h"

#include <gtest/gtest.h>

namespace metalpxe {
namespace {

TEST(Redaction, ConfigTokensInACommandLineAreRedacted) {
  EXPECT_EQ(RedactConfigTokens(R"({"msg":"Command line: talos.config=http://10.66.0.1:8080/config/etKy-gK_vuNsDBW5g console=ttyS0"})"),
            R"({"msg":"Command line: talos.config=http://10.66.0.1:8080/config/<redacted> console=ttyS0"})");
  EXPECT_EQ(RedactConfigTokens("/config/a /config/b"), "/config/<redacted> /config/<redacted>");
}

TEST(Redaction, EverythingElseIsUntouched) {
  EXPECT_EQ(RedactConfigTokens("no token here"), "no token here");
  EXPECT_EQ(RedactConfigTokens("/config/"), "/config/");
  EXPECT_EQ(RedactConfigTokens("/etc/config/ x"), "/etc/config/ x");
  EXPECT_EQ(RedactConfigTokens(""), "");
}

}  // namespace
}  // namespace metalpxe
