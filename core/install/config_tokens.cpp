#include "core/install/config_tokens.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/log.h"

namespace metalpxe {
namespace {

constexpr std::size_t kTokenBytes = 16;       // 128 bits
constexpr std::size_t kTokenChars = 22;       // base64url of 16 bytes, no padding
constexpr std::int64_t kSweepEverySeconds = 60;

std::int64_t UnixSeconds(TokenClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string Base64Url(const std::uint8_t* data, std::size_t size) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < size; ++i) {
    acc = (acc << 8) | data[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 0x3F];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 0x3F];
  return out;
}

bool IsBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

std::string Hex(const std::uint8_t* data, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0xF];
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
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

std::size_t ConfigTokenIssuer::DigestHash::operator()(const Digest& d) const noexcept {
  // The digest is uniformly random already; its first bytes make a fine hash.
  std::size_t h = 0;
  std::memcpy(&h, d.data(), sizeof h);
  return h;
}

ConfigTokenIssuer::ConfigTokenIssuer(ConfigTokenOptions options, Store* store, LeaseCheck lease_check)
    : options_(options), store_(store), lease_check_(std::move(lease_check)) {}

std::optional<ConfigTokenIssuer::Digest> ConfigTokenIssuer::DigestOf(std::string_view token) {
  if (token.size() != kTokenChars || !std::all_of(token.begin(), token.end(), IsBase64UrlChar)) return std::nullopt;
  Digest digest{};
  unsigned int length = 0;
  if (EVP_Digest(token.data(), token.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != digest.size()) {
    return std::nullopt;
  }
  return digest;
}

IssuedToken ConfigTokenIssuer::Issue(const MacAddress& mac, std::optional<Ipv4Address> bound_ip,
                                     TokenClock::time_point now) {
  std::uint8_t random[kTokenBytes];
  if (RAND_bytes(random, sizeof random) != 1) {
    // A token from a failed generator could be guessed; serving no configs
    // at all is the safe failure.
    SPDLOG_CRITICAL("OpenSSL RAND_bytes failed; cannot issue config tokens");
    std::abort();
  }
  IssuedToken issued{Base64Url(random, sizeof random), now + options_.ttl};
  OPENSSL_cleanse(random, sizeof random);

  Entry entry;
  entry.digest = *DigestOf(issued.token);
  entry.mac = mac;
  entry.bound_ip = bound_ip;
  entry.issued_unix = UnixSeconds(now);
  entry.expires_unix = UnixSeconds(issued.expires);
  entry.max_fetches = options_.max_fetches;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (entry.issued_unix - last_sweep_unix_ >= kSweepEverySeconds) SweepLocked(entry.issued_unix);
    EvictLocked();
    tokens_[entry.digest] = entry;
  }
  Persist(entry);
  return issued;
}

Result<MacAddress> ConfigTokenIssuer::Redeem(std::string_view token, Ipv4Address peer, TokenClock::time_point now) {
  const auto digest = DigestOf(token);
  if (!digest) return Rejected(TokenRejection::kUnknown);
  const std::int64_t now_unix = UnixSeconds(now);

  // Checks a found entry; returns the rejection, if any, apart from the address.
  auto check = [&](const Entry& e) -> std::optional<TokenRejection> {
    if (CRYPTO_memcmp(e.digest.data(), digest->data(), digest->size()) != 0) return TokenRejection::kUnknown;
    if (now_unix >= e.expires_unix) return TokenRejection::kExpired;
    if (e.fetches >= e.max_fetches) return TokenRejection::kUsedUp;
    return std::nullopt;
  };

  MacAddress mac;
  bool needs_lease_check = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tokens_.find(*digest);
    if (it == tokens_.end()) return Rejected(TokenRejection::kUnknown);
    if (auto r = check(it->second)) return Rejected(*r);
    mac = it->second.mac;
    needs_lease_check = it->second.bound_ip && *it->second.bound_ip != peer;
  }
  // The hook asks the DHCP server, with its own lock: never call it under ours.
  if (needs_lease_check && !(lease_check_ && lease_check_(mac, peer))) return Rejected(TokenRejection::kWrongIp);

  Entry updated;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tokens_.find(*digest);
    if (it == tokens_.end()) return Rejected(TokenRejection::kUnknown);  // swept meanwhile
    if (auto r = check(it->second)) return Rejected(*r);                 // used up meanwhile
    ++it->second.fetches;
    updated = it->second;
  }
  Persist(updated);
  return updated.mac;
}

void ConfigTokenIssuer::Persist(const Entry& entry) {
  if (store_ == nullptr) return;
  TokenRecord record;
  record.token_hash = Hex(entry.digest.data(), entry.digest.size());
  record.mac = entry.mac;
  record.bound_ip = entry.bound_ip;
  record.issued_unix = entry.issued_unix;
  record.expires_unix = entry.expires_unix;
  record.max_fetches = entry.max_fetches;
  record.fetches = entry.fetches;
  // Asynchronous: the store batches it into its next commit. A lost write
  // only means a restart forgets this token; the machine retries its boot.
  store_->PutToken(record, [](const Status& s) {
    if (!s.ok()) SPDLOG_WARN("config token not persisted: {}", s.message());
  });
}

Result<std::size_t> ConfigTokenIssuer::LoadFrom(Store& store, TokenClock::time_point now) {
  auto records = store.LoadTokens();
  if (!records.ok()) return records.status();
  const std::int64_t now_unix = UnixSeconds(now);
  std::size_t loaded = 0;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& r : *records) {
    if (r.expires_unix <= now_unix || r.token_hash.size() != 64) continue;
    Entry e;
    bool valid = true;
    for (std::size_t i = 0; i < e.digest.size(); ++i) {
      const int hi = HexValue(r.token_hash[2 * i]);
      const int lo = HexValue(r.token_hash[2 * i + 1]);
      if (hi < 0 || lo < 0) {
        valid = false;
        break;
      }
      e.digest[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    if (!valid) continue;
    e.mac = r.mac;
    e.bound_ip = r.bound_ip;
    e.issued_unix = r.issued_unix;
    e.expires_unix = r.expires_unix;
    e.max_fetches = r.max_fetches;
    e.fetches = r.fetches;
    EvictLocked();
    if (tokens_.emplace(e.digest, e).second) ++loaded;
  }
  return loaded;
}

std::size_t ConfigTokenIssuer::SweepExpired(TokenClock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::size_t before = tokens_.size();
  SweepLocked(UnixSeconds(now));
  return before - tokens_.size();
}

void ConfigTokenIssuer::SweepLocked(std::int64_t now_unix) {
  last_sweep_unix_ = now_unix;
  std::erase_if(tokens_, [&](const auto& kv) { return kv.second.expires_unix <= now_unix; });
  if (store_ != nullptr) {
    store_->DeleteExpiredTokens(now_unix, [](const Status& s) {
      if (!s.ok()) SPDLOG_WARN("expired config tokens not deleted from the store: {}", s.message());
    });
  }
}

void ConfigTokenIssuer::EvictLocked() {
  while (!tokens_.empty() && tokens_.size() >= options_.max_tokens) {
    auto oldest = std::min_element(tokens_.begin(), tokens_.end(), [](const auto& a, const auto& b) {
      return a.second.expires_unix < b.second.expires_unix;
    });
    tokens_.erase(oldest);
  }
}

std::size_t ConfigTokenIssuer::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tokens_.size();
}

}  // namespace metalpxe
