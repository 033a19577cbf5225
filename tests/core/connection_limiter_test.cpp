// The per-client / whole-server connection accounting the TCP receivers use.
#include "core/connection_limiter.h"

#include <gtest/gtest.h>

namespace metalpxe {
namespace {

using Verdict = ConnectionLimiter::Verdict;

TEST(ConnectionLimiter, OneClientGetsOnlyItsShareAndOthersKeepTheRest) {
  ConnectionLimiter limiter({/*total=*/5, /*per_client=*/2});
  const auto a = Ipv4Address::FromOctets(10, 0, 0, 1), b = Ipv4Address::FromOctets(10, 0, 0, 2),
             c = Ipv4Address::FromOctets(10, 0, 0, 3);
  EXPECT_EQ(limiter.Admit(a), Verdict::kAdmit);
  EXPECT_EQ(limiter.Admit(a), Verdict::kAdmit);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(limiter.Admit(a), Verdict::kClientFull);
  EXPECT_EQ(limiter.Of(a), 2u);
  EXPECT_EQ(limiter.Admit(b), Verdict::kAdmit);
  EXPECT_EQ(limiter.Admit(b), Verdict::kAdmit);
  EXPECT_EQ(limiter.Admit(c), Verdict::kAdmit);
  EXPECT_EQ(limiter.Admit(c), Verdict::kServerFull);
  EXPECT_EQ(limiter.total(), 5u);
  limiter.Release(a);
  EXPECT_EQ(limiter.Admit(c), Verdict::kAdmit);
  limiter.Release(Ipv4Address::FromOctets(10, 0, 0, 9));  // never admitted: no effect
  EXPECT_EQ(limiter.total(), 5u);
  for (auto ip : {a, b, b, c, c}) limiter.Release(ip);
  EXPECT_EQ(limiter.total(), 0u);
  EXPECT_EQ(limiter.clients(), 0u);
}

}  // namespace
}  // namespace metalpxe
