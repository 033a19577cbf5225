#include "core/install/config_tokens.h"

#include <cstdlib>

#include <openssl/rand.h>

#include "core/log.h"

namespace metalpxe {
namespace {

constexpr std::int64_t kSweepEverySeconds = 60;

std::int64_t UnixSeconds(TokenClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

Status Rejected(TokenRejection r) {
  switch (r) {
    case TokenRejection::kUnknown: return Status(ErrorCode::kNotFound, "config token unknown");
    case TokenRejection::kExpired: return Status(ErrorCode::kDeadlineExceeded, "config token expired");
    case TokenRejection::kWrongIp:
      return Status(ErrorCode::kPermissionDenied, "config token presented from an address not bound to it");
    case TokenRejection::kUsedUp: return Status(ErrorCode::kResourceExhausted, "config token used up");
  }
  return Status(ErrorCode::kInternal, "config token rejected");
}

}  // namespace

ConfigTokenOptions ConfigTokenOptions::FromBootConfig(const BootConfig& boot) {
  ConfigTokenOptions o;
  o.ttl = boot.config_token_ttl;
  o.max_fetches = boot.config_token_max_fetches;
  return o;
}

std::string_view TokenRejectionName(TokenRejection r) {
  switch (r) {
    case TokenRejection::kUnknown: return "unknown";
    case TokenRejection::kExpired: return "expired";
    case TokenRejection::kWrongIp: return "wrong-ip";
    case TokenRejection::kUsedUp: return "used-up";
  }
  return "unknown";
}

std::optional<TokenRejection> TokenRejectionOf(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kNotFound: return TokenRejection::kUnknown;
    case ErrorCode::kDeadlineExceeded: return TokenRejection::kExpired;
    case ErrorCode::kPermissionDenied: return TokenRejection::kWrongIp;
    case ErrorCode::kResourceExhausted: return TokenRejection::kUsedUp;
    default: return std::nullopt;
  }
}

ConfigTokenIssuer::ConfigTokenIssuer(ConfigTokenOptions options, const TokenKey& key, Store* store,
                                     LeaseCheck lease_check, Ipv6LeaseOf lease6_of)
    : options_(options),
      key_(key),
      store_(store),
      lease_check_(std::move(lease_check)),
      lease6_of_(std::move(lease6_of)) {}

int ConfigTokenIssuer::FetchesLocked(const std::string& id) const {
  auto it = fetches_.find(id);
  return it == fetches_.end() ? 0 : it->second.count;
}

IssuedToken ConfigTokenIssuer::Issue(const MacAddress& mac, std::optional<Ipv4Address> bound_ip,
                                     TokenClock::time_point now) {
  return IssueBound(mac, bound_ip, std::nullopt, now);
}

IssuedToken ConfigTokenIssuer::Issue(const MacAddress& mac, const Ipv6Address& bound_ip6, TokenClock::time_point now) {
  return IssueBound(mac, std::nullopt, bound_ip6, now);
}

IssuedToken ConfigTokenIssuer::IssueBound(const MacAddress& mac, std::optional<Ipv4Address> bound_ip,
                                          std::optional<Ipv6Address> bound_ip6, TokenClock::time_point now) {
  const std::int64_t now_unix = UnixSeconds(now);
  std::lock_guard lock(mu_);
  if (now_unix - last_sweep_unix_ >= kSweepEverySeconds) SweepLocked(now_unix);
  if (auto it = outstanding_.find(mac); it != outstanding_.end()) {
    const Outstanding& o = it->second;
    const std::int64_t half_life = (o.expires_unix - o.issued_unix) / 2;
    if (o.bound_ip == bound_ip && o.bound_ip6 == bound_ip6 && o.expires_unix - now_unix > half_life &&
        FetchesLocked(o.id) < options_.max_fetches)
      return {o.token, TokenClock::time_point(std::chrono::seconds(o.expires_unix)), false};
  }
  TokenClaims claims;
  claims.mac = mac;
  claims.bound_ip = bound_ip;
  claims.bound_ip6 = bound_ip6;
  claims.expires_unix = now_unix + options_.ttl.count();
  if (RAND_bytes(claims.nonce.data(), static_cast<int>(claims.nonce.size())) != 1) {
    // Two tokens with one nonce would share a fetch count; serving no
    // configs at all is the safe failure.
    SPDLOG_CRITICAL("OpenSSL RAND_bytes failed; cannot issue config tokens");
    std::abort();
  }
  Outstanding o{SignToken(claims, key_), bound_ip, bound_ip6, now_unix, claims.expires_unix, TokenId(claims)};
  IssuedToken issued{o.token, TokenClock::time_point(std::chrono::seconds(o.expires_unix)), true};
  outstanding_[mac] = std::move(o);
  return issued;
}

Result<MacAddress> ConfigTokenIssuer::Redeem(std::string_view token, const IpAddress& peer, TokenClock::time_point now) {
  const auto claims = VerifyToken(token, key_);
  if (!claims) return Rejected(TokenRejection::kUnknown);
  const std::int64_t now_unix = UnixSeconds(now);
  if (now_unix >= claims->expires_unix) return Rejected(TokenRejection::kExpired);
  const std::string id = TokenId(*claims);
  if (options_.shared_store) TakeStoredCount(id);
  {
    std::lock_guard lock(mu_);
    if (FetchesLocked(id) >= options_.max_fetches) return Rejected(TokenRejection::kUsedUp);
  }
  // The hooks ask the DHCP servers, with their own locks: never call them under ours.
  if (claims->bound_ip) {
    const auto v4 = peer.v4();  // an IPv4-bound token never opens over IPv6
    if (!v4 || (*claims->bound_ip != *v4 && !(lease_check_ && lease_check_(claims->mac, *v4))))
      return Rejected(TokenRejection::kWrongIp);
  }
  if (claims->bound_ip6) {
    const auto v6 = peer.v6();  // nor an IPv6-bound one over IPv4
    if (!v6 || !Ipv6PeerMayRedeem(*claims->bound_ip6, *v6, lease6_of_ ? lease6_of_(claims->mac) : std::nullopt))
      return Rejected(TokenRejection::kWrongIp);
  }

  Fetches updated;
  {
    std::lock_guard lock(mu_);
    Fetches& f = fetches_[id];
    if (f.count >= options_.max_fetches) return Rejected(TokenRejection::kUsedUp);  // used up meanwhile
    f.mac = claims->mac;
    f.bound_ip = claims->bound_ip;
    f.expires_unix = claims->expires_unix;
    ++f.count;
    updated = f;
  }
  Persist(id, updated);
  return claims->mac;
}

void ConfigTokenIssuer::TakeStoredCount(const std::string& id) {
  if (store_ == nullptr) return;
  // One read per config fetch (a few per install): the tokens with fetches
  // are few, and a fetch is rare next to DHCP. Two fetches of one token at
  // the same instant through two appliances may still count as one.
  auto records = store_->LoadTokens();
  if (!records.ok()) {
    SPDLOG_WARN("config token fetch counts of other appliances not read: {}", records.status().message());
    return;
  }
  for (const auto& r : *records) {
    if (r.token_hash != id) continue;
    std::lock_guard lock(mu_);
    Fetches& f = fetches_[id];
    if (r.fetches > f.count) {
      f.mac = r.mac;
      f.bound_ip = r.bound_ip;
      f.expires_unix = r.expires_unix;
      f.count = r.fetches;
    }
    return;
  }
}

void ConfigTokenIssuer::Persist(const std::string& id, const Fetches& f) {
  if (store_ == nullptr) return;
  TokenRecord record;
  record.token_hash = id;
  record.mac = f.mac;
  record.bound_ip = f.bound_ip;
  record.expires_unix = f.expires_unix;
  record.issued_unix = f.expires_unix - options_.ttl.count();
  record.max_fetches = options_.max_fetches;
  record.fetches = f.count;
  // Asynchronous: the store batches it into its next group commit. A lost
  // write only means a restart forgets one fetch of this token.
  store_->PutToken(record, [](const Status& s) {
    if (!s.ok()) SPDLOG_WARN("config token fetch count not persisted: {}", s.message());
  });
}

Result<std::size_t> ConfigTokenIssuer::LoadFrom(Store& store, TokenClock::time_point now) {
  auto records = store.LoadTokens();
  if (!records.ok()) return records.status();
  const std::int64_t now_unix = UnixSeconds(now);
  std::size_t loaded = 0;
  std::lock_guard lock(mu_);
  for (const auto& r : *records) {
    // Rows of the earlier stored-token scheme (64-digit hashes) name tokens
    // that no longer verify; only nonce ids count.
    if (r.expires_unix <= now_unix || r.token_hash.size() != 16) continue;
    Fetches f{r.mac, r.bound_ip, r.expires_unix, r.fetches};
    if (fetches_.emplace(r.token_hash, f).second) ++loaded;
  }
  return loaded;
}

std::size_t ConfigTokenIssuer::SweepExpired(TokenClock::time_point now) {
  std::lock_guard lock(mu_);
  const std::size_t before = fetches_.size() + outstanding_.size();
  SweepLocked(UnixSeconds(now));
  return before - fetches_.size() - outstanding_.size();
}

void ConfigTokenIssuer::SweepLocked(std::int64_t now_unix) {
  last_sweep_unix_ = now_unix;
  std::erase_if(fetches_, [&](const auto& kv) { return kv.second.expires_unix <= now_unix; });
  std::erase_if(outstanding_, [&](const auto& kv) { return kv.second.expires_unix <= now_unix; });
  if (store_ != nullptr) {
    store_->DeleteExpiredTokens(now_unix, [](const Status& s) {
      if (!s.ok()) SPDLOG_WARN("expired config tokens not deleted from the store: {}", s.message());
    });
  }
}

std::size_t ConfigTokenIssuer::fetched_tokens() const {
  std::lock_guard lock(mu_);
  return fetches_.size();
}

}  // namespace metalpxe
