// Config tokens: signed claims checked without a lookup, each refusal with
// its own kind, a machine's outstanding token handed out again, fetch counts
// that survive a restart through the real SqliteStore (which never sees a
// token), and concurrent redeems that never exceed the fetch limit.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/install/config_tokens.h"
#include "core/install/token_key.h"
#include "core/store/sqlite_store.h"
#include "tests/support/map_shared_values.h"

namespace metalpxe {
namespace {

const MacAddress kMacA = *MacAddress::Parse("52:54:00:00:00:0a");
const MacAddress kMacB = *MacAddress::Parse("52:54:00:00:00:0b");
const Ipv4Address kIpA = *Ipv4Address::Parse("10.66.0.50");
const Ipv4Address kIpA2 = *Ipv4Address::Parse("10.66.0.51");  // A's second lease (installer's DHCP)
const Ipv4Address kIpB = *Ipv4Address::Parse("10.66.0.60");
const TokenClock::time_point kNow = TokenClock::time_point(std::chrono::seconds(1'800'000'000));

TokenKey Key(std::uint8_t fill = 42) {
  TokenKey k;
  k.fill(fill);
  return k;
}

ConfigTokenOptions Options(int max_fetches = 3, std::chrono::seconds ttl = std::chrono::seconds(1800)) {
  ConfigTokenOptions o;
  o.ttl = ttl;
  o.max_fetches = max_fetches;
  return o;
}

std::optional<TokenRejection> RejectionOf(const Result<MacAddress>& r) {
  return r.ok() ? std::nullopt : TokenRejectionOf(r.status());
}

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(install_config_tokens, TokenIsSignedClaimsInBase64Url) {
  ConfigTokenIssuer issuer(Options(), Key());
  const IssuedToken t = issuer.Issue(kMacA, kIpA, kNow);
  ASSERT_EQ(t.token.size(), kTokenChars);
  for (char c : t.token) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << c;
  const auto claims = VerifyToken(t.token, Key());
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->mac, kMacA);
  EXPECT_EQ(claims->bound_ip, kIpA);
  EXPECT_EQ(claims->expires_unix, 1'800'000'000 + 1800);
  EXPECT_FALSE(VerifyToken(t.token, Key(43))) << "another appliance's key";
  EXPECT_NE(issuer.Issue(kMacB, kIpA, kNow).token, t.token);
}

TEST(install_config_tokens, EveryAlteredCharacterIsRefused) {
  const TokenClaims claims{kMacA, kIpA, 1'800'001'800, {9, 8, 7, 6, 5, 4, 3, 2}};
  const std::string token = SignToken(claims, Key());
  ASSERT_EQ(VerifyToken(token, Key()), claims);
  for (std::size_t i = 0; i < token.size(); ++i)
    for (char c : {'A', 'z', '0', '-', '_'}) {
      if (token[i] == c) continue;
      std::string altered = token;
      altered[i] = c;
      EXPECT_FALSE(VerifyToken(altered, Key())) << i << c;
    }
  EXPECT_FALSE(VerifyToken(token.substr(1), Key()));
  EXPECT_FALSE(VerifyToken(token + "A", Key()));
  EXPECT_FALSE(VerifyToken(std::string(kTokenChars, '*'), Key()));
}

TEST(install_config_tokens, RedeemReturnsTheMacTheTokenWasIssuedFor) {
  ConfigTokenIssuer issuer(Options(), Key());
  const std::string a = issuer.Issue(kMacA, kIpA, kNow).token;
  const std::string b = issuer.Issue(kMacB, kIpB, kNow).token;
  EXPECT_EQ(*issuer.Redeem(a, kIpA, kNow), kMacA);
  EXPECT_EQ(*issuer.Redeem(b, kIpB, kNow), kMacB);
}

TEST(install_config_tokens, EachRefusalHasItsOwnKind) {
  ConfigTokenIssuer issuer(Options(1, std::chrono::seconds(60)), Key());
  const std::string token = issuer.Issue(kMacA, kIpA, kNow).token;
  EXPECT_EQ(RejectionOf(issuer.Redeem("garbage", kIpA, kNow)), TokenRejection::kUnknown);
  EXPECT_EQ(RejectionOf(issuer.Redeem(token, kIpB, kNow)), TokenRejection::kWrongIp);
  EXPECT_EQ(RejectionOf(issuer.Redeem(token, kIpA, kNow + std::chrono::seconds(60))), TokenRejection::kExpired);
  ASSERT_TRUE(issuer.Redeem(token, kIpA, kNow).ok());
  EXPECT_EQ(RejectionOf(issuer.Redeem(token, kIpA, kNow)), TokenRejection::kUsedUp);
  for (auto r : {TokenRejection::kUnknown, TokenRejection::kExpired, TokenRejection::kWrongIp, TokenRejection::kUsedUp})
    EXPECT_FALSE(TokenRejectionName(r).empty());
}

TEST(install_config_tokens, TheOutstandingTokenIsHandedOutAgainWhileMoreThanHalfItsLifeIsLeft) {
  ConfigTokenIssuer issuer(Options(2, std::chrono::seconds(100)), Key());
  const IssuedToken first = issuer.Issue(kMacA, kIpA, kNow);
  EXPECT_TRUE(first.fresh);
  const IssuedToken again = issuer.Issue(kMacA, kIpA, kNow + std::chrono::seconds(49));
  EXPECT_EQ(again.token, first.token);
  EXPECT_FALSE(again.fresh);
  EXPECT_NE(issuer.Issue(kMacA, kIpA, kNow + std::chrono::seconds(51)).token, first.token) << "half its life gone";
  // Bound differently: a new token.
  const IssuedToken rebound = issuer.Issue(kMacA, kIpA2, kNow + std::chrono::seconds(52));
  EXPECT_TRUE(rebound.fresh);
  // Used up: a new token.
  ASSERT_TRUE(issuer.Redeem(rebound.token, kIpA2, kNow + std::chrono::seconds(52)).ok());
  ASSERT_TRUE(issuer.Redeem(rebound.token, kIpA2, kNow + std::chrono::seconds(52)).ok());
  EXPECT_NE(issuer.Issue(kMacA, kIpA2, kNow + std::chrono::seconds(53)).token, rebound.token);
}

TEST(install_config_tokens, UnboundTokenAcceptsAnyPeer) {
  ConfigTokenIssuer issuer(Options(), Key());
  const std::string token = issuer.Issue(kMacA, std::nullopt, kNow).token;
  EXPECT_EQ(*issuer.Redeem(token, kIpB, kNow), kMacA);
}

TEST(install_config_tokens, LeaseHookAcceptsAnotherAddressLeasedToTheSameMac) {
  std::vector<std::pair<MacAddress, Ipv4Address>> asked;
  ConfigTokenIssuer issuer(Options(), Key(), nullptr, [&](const MacAddress& mac, Ipv4Address peer) {
    asked.emplace_back(mac, peer);
    return mac == kMacA && peer == kIpA2;
  });
  const std::string token = issuer.Issue(kMacA, kIpA, kNow).token;
  EXPECT_EQ(*issuer.Redeem(token, kIpA2, kNow), kMacA);
  EXPECT_EQ(RejectionOf(issuer.Redeem(token, kIpB, kNow)), TokenRejection::kWrongIp);
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_EQ(asked[0].first, kMacA);  // the hook is asked about the token's own MAC
  EXPECT_TRUE(issuer.Redeem(token, kIpA, kNow).ok());
  EXPECT_EQ(asked.size(), 2u) << "the bound address needs no lease check";
}

// Over IPv6 the token is bound to the machine's DHCPv6 lease: version 2,
// 68 characters, the IPv6 address under the HMAC like the IPv4 one.
TEST(install_config_tokens, Ipv6BoundTokenIsVersionTwoAndEveryAlteredCharacterIsRefused) {
  const Ipv6Address a6 = *Ipv6Address::Parse("fd00:66::100");
  TokenClaims claims{kMacA, std::nullopt, 1'800'001'800, {9, 8, 7, 6, 5, 4, 3, 2}, a6};
  const std::string token = SignToken(claims, Key());
  ASSERT_EQ(token.size(), kTokenChars6);
  ASSERT_EQ(VerifyToken(token, Key()), claims);
  for (std::size_t i = 0; i < token.size(); ++i)
    for (char c : {'A', 'z', '0', '-', '_'}) {
      if (token[i] == c) continue;
      std::string altered = token;
      altered[i] = c;
      EXPECT_FALSE(VerifyToken(altered, Key())) << i << c;
    }
  EXPECT_FALSE(VerifyToken(token.substr(0, kTokenChars), Key())) << "a version-2 token cut to version-1 length";
  EXPECT_FALSE(VerifyToken(token, Key(43)));
}

TEST(install_config_tokens, Ipv6BoundTokenOpensFromItsAddressOrTheMacsLeaseOnlyAndNeverOverIpv4) {
  const Ipv6Address a6 = *Ipv6Address::Parse("fd00:66::100");
  const Ipv6Address a6_renewed = *Ipv6Address::Parse("fd00:66::110");
  const Ipv6Address other = *Ipv6Address::Parse("fd00:66::200");
  std::optional<Ipv6Address> lease = a6;
  ConfigTokenIssuer issuer(Options(10), Key(), nullptr, {}, [&](const MacAddress& mac) {
    return mac == kMacA ? lease : std::nullopt;
  });
  const IssuedToken t = issuer.Issue(kMacA, a6, kNow);
  ASSERT_EQ(t.token.size(), kTokenChars6);
  EXPECT_EQ(VerifyToken(t.token, Key())->bound_ip6, a6);
  EXPECT_EQ(*issuer.Redeem(t.token, a6, kNow), kMacA);
  EXPECT_EQ(RejectionOf(issuer.Redeem(t.token, other, kNow)), TokenRejection::kWrongIp);
  EXPECT_EQ(RejectionOf(issuer.Redeem(t.token, kIpA, kNow)), TokenRejection::kWrongIp) << "IPv4 peer";
  lease = a6_renewed;  // the installer's own DHCPv6 got another address for the MAC
  EXPECT_EQ(*issuer.Redeem(t.token, a6_renewed, kNow), kMacA);
  // An IPv4-bound token never opens over IPv6, not even from the mapped form's family.
  const std::string v4 = issuer.Issue(kMacB, kIpB, kNow).token;
  EXPECT_EQ(RejectionOf(issuer.Redeem(v4, other, kNow)), TokenRejection::kWrongIp);
  EXPECT_TRUE(issuer.Redeem(v4, IpAddress(*Ipv6Address::Parse("::ffff:10.66.0.60")), kNow).ok())
      << "an IPv4-mapped peer is the IPv4 peer";
  // Bound the same way: the outstanding token again; bound to IPv4 instead: a new one.
  EXPECT_EQ(issuer.Issue(kMacA, a6, kNow).token, t.token);
  EXPECT_NE(issuer.Issue(kMacA, std::optional<Ipv4Address>(kIpA), kNow).token, t.token);
}

TEST(install_config_tokens, SweepDropsExpiredState) {
  ConfigTokenIssuer issuer(Options(3, std::chrono::seconds(10)), Key());
  const std::string token = issuer.Issue(kMacA, std::nullopt, kNow).token;
  ASSERT_TRUE(issuer.Redeem(token, kIpA, kNow).ok());
  EXPECT_EQ(issuer.fetched_tokens(), 1u);
  EXPECT_EQ(issuer.SweepExpired(kNow + std::chrono::seconds(11)), 2u);  // the fetch count and the outstanding token
  EXPECT_EQ(issuer.fetched_tokens(), 0u);
}

TEST(install_config_tokens, FetchCountsSurviveARestartThroughTheStoreWhichNeverSeesTokens) {
  const std::string dir = ::testing::TempDir() + "/install-tokens-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::string token, expired_token, unfetched;
  {
    auto store = SqliteStore::Open(dir);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ConfigTokenIssuer issuer(Options(2), Key(), store->get());
    token = issuer.Issue(kMacA, kIpA, kNow).token;
    unfetched = issuer.Issue(kMacB, kIpB, kNow).token;
    ConfigTokenIssuer short_lived(Options(2, std::chrono::seconds(5)), Key(), store->get());
    expired_token = short_lived.Issue(kMacB, std::nullopt, kNow).token;
    ASSERT_TRUE(short_lived.Redeem(expired_token, kIpA, kNow).ok());
    ASSERT_TRUE(issuer.Redeem(token, kIpA, kNow).ok());  // one of two fetches used
    ASSERT_TRUE((*store)->Flush().ok());
    auto records = (*store)->LoadTokens();
    ASSERT_TRUE(records.ok());
    ASSERT_EQ(records->size(), 2u) << "only fetched tokens have a row";
    for (const auto& r : *records) EXPECT_EQ(r.token_hash.size(), 16u);
  }
  // Nothing on disk holds a token.
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string bytes = ReadAll(entry.path());
    for (const auto& t : {token, expired_token, unfetched})
      EXPECT_EQ(bytes.find(t), std::string::npos) << entry.path();
  }
  {
    auto store = SqliteStore::Open(dir);
    ASSERT_TRUE(store.ok());
    ConfigTokenIssuer issuer(Options(2), Key(), store->get());
    auto loaded = issuer.LoadFrom(**store, kNow + std::chrono::seconds(60));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(*loaded, 1u);  // the expired one stays behind
    auto r = issuer.Redeem(token, kIpA, kNow + std::chrono::seconds(61));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, kMacA);
    // The fetch count came back too: the second fetch was the last one.
    EXPECT_EQ(RejectionOf(issuer.Redeem(token, kIpA, kNow + std::chrono::seconds(62))), TokenRejection::kUsedUp);
    EXPECT_EQ(RejectionOf(issuer.Redeem(expired_token, kIpA, kNow + std::chrono::seconds(62))),
              TokenRejection::kExpired);
    // A token issued before the restart and never fetched still opens.
    EXPECT_EQ(*issuer.Redeem(unfetched, kIpB, kNow + std::chrono::seconds(62)), kMacB);
  }
  std::filesystem::remove_all(dir);
}

TEST(install_config_tokens, TheKeyIsMadeOnceAndKept) {
  const std::string dir = ::testing::TempDir() + "/token-key-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto first = LoadOrCreateTokenKey(dir);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = LoadOrCreateTokenKey(dir);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
  EXPECT_NE(*first, TokenKey{});
  const auto perms = std::filesystem::status(dir + "/token.key").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::ofstream(dir + "/token.key", std::ios::trunc) << "short";
  auto damaged = LoadOrCreateTokenKey(dir);
  ASSERT_FALSE(damaged.ok());
  EXPECT_NE(damaged.status().message().find("is not 32 bytes"), std::string::npos) << damaged.status().message();
  std::filesystem::remove_all(dir);
}

TEST(install_config_tokens, SharedKeyIsOneForEveryApplianceAndLeavesTheirFilesAlone) {
  const std::string base = ::testing::TempDir() + "/token-key-shared-" + std::to_string(::getpid());
  std::filesystem::remove_all(base);
  std::filesystem::create_directories(base + "/a");
  std::filesystem::create_directories(base + "/b");
  // Appliance a ran on SQLite before: its key is the one offered, and kept.
  auto own = LoadOrCreateTokenKey(base + "/a");
  ASSERT_TRUE(own.ok());
  testing::MapSharedValues shared;
  auto a = LoadOrCreateSharedTokenKey(shared, base + "/a");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, *own);
  auto b = LoadOrCreateSharedTokenKey(shared, base + "/b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, *a);
  EXPECT_FALSE(std::filesystem::exists(base + "/b/token.key"));  // no file: the store holds it
  EXPECT_EQ(shared.values.at(kSharedTokenKeyName).value, EncodeTokenKey(*a).Reveal());
  EXPECT_EQ(shared.values.at(kSharedTokenKeyName).value.size(), 64u);

  // A token issued with a's key opens on b.
  ConfigTokenIssuer issuer_a({}, *a), issuer_b({}, *b);
  const auto token = issuer_a.Issue(kMacA, kIpA, kNow).token;
  EXPECT_EQ(*issuer_b.Redeem(token, kIpA, kNow), kMacA);

  // Without a file, a fresh random key is offered.
  testing::MapSharedValues fresh;
  auto c = LoadOrCreateSharedTokenKey(fresh, base + "/b");
  ASSERT_TRUE(c.ok());
  EXPECT_NE(*c, *a);
  EXPECT_NE(*c, TokenKey{});

  // A damaged value is an error, never a key made of it.
  for (const std::string& bad : std::vector<std::string>{"", "00", std::string(64, 'g'), std::string(63, '0'), std::string(65, '0'),
                                std::string(64, 'A')}) {
    testing::MapSharedValues damaged;
    damaged.values[kSharedTokenKeyName] = {bad, 1};
    auto d = LoadOrCreateSharedTokenKey(damaged, base + "/b");
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().code(), ErrorCode::kDataLoss);
    if (bad.size() > 2) {
      EXPECT_EQ(d.status().message().find(bad), std::string::npos);  // the value is not echoed
    }
  }
  std::filesystem::remove_all(base);
}

TEST(install_config_tokens, TokenKeyTextRoundTrip) {
  const TokenKey k = Key(0xa5);
  const Secret text = EncodeTokenKey(k);
  std::string expected;
  for (int i = 0; i < 32; ++i) expected += "a5";
  EXPECT_EQ(text.Reveal(), expected);
  EXPECT_EQ(DecodeTokenKey(text.Reveal()), k);
  EXPECT_FALSE(DecodeTokenKey(" " + text.Reveal().substr(1)));
}

TEST(install_config_tokens, ConcurrentIssueAndRedeem) {
  std::atomic<int> lease_calls{0};
  ConfigTokenIssuer issuer(Options(4), Key(), nullptr, [&](const MacAddress&, Ipv4Address) {
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
}

}  // namespace
}  // namespace metalpxe
