// ConfigTokenIssuer: each refusal has its own kind, tokens survive a restart
// through the real SqliteStore (which never sees the token itself), and
// concurrent redeems never exceed the fetch limit.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/install/config_tokens.h"
#include "core/store/sqlite_store.h"

namespace metalpxe {
namespace {

const MacAddress kMacA = *MacAddress::Parse("52:54:00:00:00:0a");
const MacAddress kMacB = *MacAddress::Parse("52:54:00:00:00:0b");
const Ipv4Address kIpA = *Ipv4Address::Parse("10.66.0.50");
const Ipv4Address kIpA2 = *Ipv4Address::Parse("10.66.0.51");  // A's second lease (installer's DHCP)
const Ipv4Address kIpB = *Ipv4Address::Parse("10.66.0.60");
const TokenClock::time_point kNow = TokenClock::time_point(std::chrono::seconds(1'800'000'000));

ConfigTokenOptions Options(int max_fetches = 3, std::chrono::seconds ttl = std::chrono::seconds(1800)) {
  ConfigTokenOptions o;
  o.ttl = ttl;
  o.max_fetches = max_fetches;
  return o;
}

std::optional<TokenRejection> RejectionOf(const Result<MacAddress>& r) {
  return r.ok() ? std::nullopt : TokenRejectionOf(r.status());
}

TEST(install_config_tokens, IssuedTokenIs128RandomBitsInBase64Url) {
  ConfigTokenIssuer issuer(Options());
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const IssuedToken t = issuer.Issue(kMacA, std::nullopt, kNow);
    ASSERT_EQ(t.token.size(), 22u);
    for (char c : t.token) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << t.token;
    EXPECT_TRUE(seen.insert(t.token).second);
    EXPECT_EQ(t.expires, kNow + std::chrono::seconds(1800));
  }
}

TEST(install_config_tokens, RedeemReturnsTheMacTheTokenWasIssuedFor) {
  ConfigTokenIssuer issuer(Options());
  const IssuedToken a = issuer.Issue(kMacA, kIpA, kNow);
  const IssuedToken b = issuer.Issue(kMacB, kIpB, kNow);
  auto ra = issuer.Redeem(a.token, kIpA, kNow + std::chrono::seconds(5));
  ASSERT_TRUE(ra.ok()) << ra.status().ToString();
  EXPECT_EQ(*ra, kMacA);
  auto rb = issuer.Redeem(b.token, kIpB, kNow);
  ASSERT_TRUE(rb.ok());
  EXPECT_EQ(*rb, kMacB);
}

TEST(install_config_tokens, EachRefusalHasItsOwnKind) {
  std::set<ErrorCode> codes;
  for (TokenRejection r : {TokenRejection::kUnknown, TokenRejection::kExpired, TokenRejection::kWrongIp,
                           TokenRejection::kUsedUp}) {
    EXPECT_FALSE(TokenRejectionName(r).empty());
    (void)r;
  }
  ConfigTokenIssuer issuer(Options(1, std::chrono::seconds(60)));
  // unknown: never issued, or not even token-shaped
  auto unknown = issuer.Redeem("AAAAAAAAAAAAAAAAAAAAAA", kIpA, kNow);
  EXPECT_EQ(RejectionOf(unknown), TokenRejection::kUnknown);
  codes.insert(unknown.status().code());
  for (const char* junk : {"", "abc", "../../etc/passwd", "AAAAAAAAAAAAAAAAAAAAA=", "AAAAAAAAAAAAAAAAAAAAAAA"}) {
    EXPECT_EQ(RejectionOf(issuer.Redeem(junk, kIpA, kNow)), TokenRejection::kUnknown) << junk;
  }
  // expired
  const IssuedToken t1 = issuer.Issue(kMacA, kIpA, kNow);
  auto expired = issuer.Redeem(t1.token, kIpA, kNow + std::chrono::seconds(60));
  EXPECT_EQ(RejectionOf(expired), TokenRejection::kExpired);
  codes.insert(expired.status().code());
  // wrong ip (no lease hook)
  const IssuedToken t2 = issuer.Issue(kMacA, kIpA, kNow);
  auto wrong = issuer.Redeem(t2.token, kIpB, kNow);
  EXPECT_EQ(RejectionOf(wrong), TokenRejection::kWrongIp);
  codes.insert(wrong.status().code());
  // used up: a refused fetch did not count, so one fetch is still left
  EXPECT_TRUE(issuer.Redeem(t2.token, kIpA, kNow).ok());
  auto used = issuer.Redeem(t2.token, kIpA, kNow);
  EXPECT_EQ(RejectionOf(used), TokenRejection::kUsedUp);
  codes.insert(used.status().code());
  EXPECT_EQ(codes.size(), 4u);
  EXPECT_EQ(TokenRejectionOf(Status::Ok()), std::nullopt);
  EXPECT_EQ(TokenRejectionName(TokenRejection::kWrongIp), "wrong-ip");
  EXPECT_EQ(TokenRejectionName(TokenRejection::kUsedUp), "used-up");
}

TEST(install_config_tokens, UnboundTokenAcceptsAnyPeer) {
  ConfigTokenIssuer issuer(Options());
  const IssuedToken t = issuer.Issue(kMacA, std::nullopt, kNow);
  EXPECT_TRUE(issuer.Redeem(t.token, kIpB, kNow).ok());
}

TEST(install_config_tokens, LeaseHookAcceptsAnotherAddressLeasedToTheSameMac) {
  std::atomic<int> calls{0};
  ConfigTokenIssuer issuer(Options(), nullptr, [&](const MacAddress& mac, Ipv4Address peer) {
    ++calls;
    // The DHCP server's view: A holds .50 and .51, B holds .60.
    return (mac == kMacA && (peer == kIpA || peer == kIpA2)) || (mac == kMacB && peer == kIpB);
  });
  const IssuedToken t = issuer.Issue(kMacA, kIpA, kNow);
  auto same = issuer.Redeem(t.token, kIpA, kNow);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(calls.load(), 0);  // bound address: no need to ask
  auto other = issuer.Redeem(t.token, kIpA2, kNow);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_EQ(*other, kMacA);
  EXPECT_EQ(calls.load(), 1);
}

TEST(install_config_tokens, WrongMacAnAddressLeasedToAnotherMachineIsRefused) {
  ConfigTokenIssuer issuer(Options(), nullptr, [&](const MacAddress& mac, Ipv4Address peer) {
    return (mac == kMacA && peer == kIpA) || (mac == kMacB && peer == kIpB);
  });
  // Machine B steals A's token (e.g. from a shared screen): B's address is
  // leased, but not to A, so the token does not give B the config of A.
  const IssuedToken a = issuer.Issue(kMacA, kIpA, kNow);
  EXPECT_EQ(RejectionOf(issuer.Redeem(a.token, kIpB, kNow)), TokenRejection::kWrongIp);
  auto own = issuer.Redeem(a.token, kIpA, kNow);
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(*own, kMacA);
  EXPECT_NE(*own, kMacB);
}

TEST(install_config_tokens, SweepDropsExpiredTokens) {
  ConfigTokenIssuer issuer(Options(3, std::chrono::seconds(10)));
  for (int i = 0; i < 5; ++i) issuer.Issue(kMacA, std::nullopt, kNow);
  const IssuedToken late = issuer.Issue(kMacB, std::nullopt, kNow + std::chrono::seconds(8));
  EXPECT_EQ(issuer.size(), 6u);
  EXPECT_EQ(issuer.SweepExpired(kNow + std::chrono::seconds(10)), 5u);
  EXPECT_EQ(issuer.size(), 1u);
  EXPECT_TRUE(issuer.Redeem(late.token, kIpB, kNow + std::chrono::seconds(11)).ok());
  // Issue sweeps by itself now and then.
  issuer.Issue(kMacA, std::nullopt, kNow + std::chrono::hours(1));
  EXPECT_EQ(issuer.size(), 1u);
}

TEST(install_config_tokens, TokenCountIsBounded) {
  ConfigTokenOptions o = Options();
  o.max_tokens = 8;
  ConfigTokenIssuer issuer(o);
  std::vector<IssuedToken> tokens;
  for (int i = 0; i < 20; ++i) tokens.push_back(issuer.Issue(kMacA, std::nullopt, kNow + std::chrono::seconds(i)));
  EXPECT_LE(issuer.size(), 8u);
  EXPECT_TRUE(issuer.Redeem(tokens.back().token, kIpA, kNow + std::chrono::seconds(20)).ok());
  EXPECT_EQ(RejectionOf(issuer.Redeem(tokens.front().token, kIpA, kNow + std::chrono::seconds(20))),
            TokenRejection::kUnknown);
}

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(install_config_tokens, TokensSurviveARestartThroughTheStoreWhichNeverSeesThem) {
  const std::string dir = ::testing::TempDir() + "/install-tokens-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::string token;
  std::string expired_token;
  {
    auto store = SqliteStore::Open(dir);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ConfigTokenIssuer issuer(Options(2), store->get());
    token = issuer.Issue(kMacA, kIpA, kNow).token;
    ConfigTokenIssuer short_lived(Options(2, std::chrono::seconds(5)), store->get());
    expired_token = short_lived.Issue(kMacB, std::nullopt, kNow).token;
    ASSERT_TRUE(issuer.Redeem(token, kIpA, kNow).ok());  // one of two fetches used
    ASSERT_TRUE((*store)->Flush().ok());
    auto records = (*store)->LoadTokens();
    ASSERT_TRUE(records.ok());
    ASSERT_EQ(records->size(), 2u);
    for (const auto& r : *records) {
      EXPECT_EQ(r.token_hash.size(), 64u);
      EXPECT_NE(r.token_hash, token);
    }
  }
  // Nothing on disk holds the token itself.
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string bytes = ReadAll(entry.path());
    EXPECT_EQ(bytes.find(token), std::string::npos) << entry.path();
    EXPECT_EQ(bytes.find(expired_token), std::string::npos) << entry.path();
  }
  {
    auto store = SqliteStore::Open(dir);
    ASSERT_TRUE(store.ok());
    ConfigTokenIssuer issuer(Options(2), store->get());
    auto loaded = issuer.LoadFrom(**store, kNow + std::chrono::seconds(60));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(*loaded, 1u);  // the expired one stays behind
    auto r = issuer.Redeem(token, kIpA, kNow + std::chrono::seconds(61));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, kMacA);
    // The fetch count came back too: the second fetch was the last one.
    EXPECT_EQ(RejectionOf(issuer.Redeem(token, kIpA, kNow + std::chrono::seconds(62))), TokenRejection::kUsedUp);
    EXPECT_EQ(RejectionOf(issuer.Redeem(token, kIpB, kNow + std::chrono::seconds(62))), TokenRejection::kUsedUp);
    EXPECT_EQ(RejectionOf(issuer.Redeem(expired_token, kIpA, kNow + std::chrono::seconds(62))),
              TokenRejection::kUnknown);
  }
  std::filesystem::remove_all(dir);
}

TEST(install_config_tokens, ConcurrentIssueAndRedeem) {
  std::atomic<int> lease_calls{0};
  ConfigTokenIssuer issuer(Options(4), nullptr, [&](const MacAddress&, Ipv4Address) {
    ++lease_calls;
    return true;
  });
  // One token, many threads: exactly max_fetches succeed.
  const IssuedToken shared = issuer.Issue(kMacA, kIpA, kNow);
  std::atomic<int> ok{0}, used_up{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto r = issuer.Redeem(shared.token, t % 2 ? kIpA : kIpA2, kNow);
        if (r.ok()) {
          ++ok;
        } else if (RejectionOf(r) == TokenRejection::kUsedUp) {
          ++used_up;
        }
      }
    });
  }
  // Meanwhile others issue and redeem their own tokens.
  std::atomic<int> own_ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      MacAddress mac = kMacB;
      mac.bytes[5] = static_cast<std::uint8_t>(t);
      for (int i = 0; i < 300; ++i) {
        const IssuedToken tok = issuer.Issue(mac, kIpB, kNow + std::chrono::seconds(i));
        auto r = issuer.Redeem(tok.token, kIpB, kNow + std::chrono::seconds(i));
        if (r.ok() && *r == mac) ++own_ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(used_up.load(), 8 * 50 - 4);
  EXPECT_EQ(own_ok.load(), 4 * 300);
  EXPECT_EQ(issuer.size(), 1u + 4 * 300);
}

}  // namespace
}  // namespace metalpxe
