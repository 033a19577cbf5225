#pragma once
// Short-lived tokens that let one machine fetch its Talos config once its own
// iPXE script carried the token (`talos.config=http://…/config/<token>`).
//
// A token is 128 random bits (OpenSSL RAND_bytes) as 22 base64url characters,
// bound to the MAC it was issued for and, in full-DHCP mode, to the address
// leased to it. It is valid for a time (BootConfig.config_token_ttl) and a
// number of fetches (BootConfig.config_token_max_fetches).
//
// Only the sha256 of a token is kept, in memory on the hot path, compared in
// constant time; use counts live in memory. Every issue and fetch is also
// handed to Store::PutToken, which returns at once and writes in the
// background (TokenRecord holds the hash, never the token), so tokens survive
// a daemon restart through LoadFrom(). Thread-safe.
//
// One boot is three DHCP clients (firmware, iPXE, the Talos installer): when
// the fetching address differs from the bound one, the optional
// `LeaseCheck(mac, peer)` hook may still accept it when that address is
// leased to the same MAC (DESIGN.md).
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/config.h"
#include "core/net_types.h"
#include "core/result.h"
#include "core/store.h"

namespace metalpxe {

using TokenClock = std::chrono::system_clock;

struct ConfigTokenOptions {
  std::chrono::seconds ttl{1800};
  int max_fetches = 5;
  // Bound on tokens held at once; past it the ones closest to expiry go first.
  std::size_t max_tokens = 65536;

  static ConfigTokenOptions FromBootConfig(const BootConfig& boot);
};

struct IssuedToken {
  std::string token;  // secret: goes into the machine's iPXE script only, never a log
  TokenClock::time_point expires;
};

// Why Redeem refused. The HTTP layer answers all of them with a bare 403; the
// kinds are for metrics and the event log. Each maps to its own ErrorCode.
enum class TokenRejection {
  kUnknown,   // ErrorCode::kNotFound: never issued, malformed, or swept
  kExpired,   // ErrorCode::kDeadlineExceeded
  kWrongIp,   // ErrorCode::kPermissionDenied: peer is neither the bound address nor leased to the MAC
  kUsedUp,    // ErrorCode::kResourceExhausted: max fetches reached
};
std::string_view TokenRejectionName(TokenRejection r);  // "unknown" | "expired" | "wrong-ip" | "used-up"
// The rejection a failed Redeem reported; nullopt for other statuses.
std::optional<TokenRejection> TokenRejectionOf(const Status& status);

class ConfigTokenIssuer {
 public:
  // Does the DHCP server currently lease `peer` to `mac`?
  using LeaseCheck = std::function<bool(const MacAddress& mac, Ipv4Address peer)>;

  // `store` may be null (memory only); it must outlive the issuer.
  explicit ConfigTokenIssuer(ConfigTokenOptions options, Store* store = nullptr, LeaseCheck lease_check = {});

  ConfigTokenIssuer(const ConfigTokenIssuer&) = delete;
  ConfigTokenIssuer& operator=(const ConfigTokenIssuer&) = delete;

  IssuedToken Issue(const MacAddress& mac, std::optional<Ipv4Address> bound_ip, TokenClock::time_point now);

  // The MAC the token was issued for, counting one fetch; or a status whose
  // code TokenRejectionOf() turns into the reason.
  Result<MacAddress> Redeem(std::string_view token, Ipv4Address peer, TokenClock::time_point now);

  // Takes in the unexpired tokens a previous run persisted. Returns how many.
  Result<std::size_t> LoadFrom(Store& store, TokenClock::time_point now = TokenClock::now());

  // Drops expired tokens (also done now and then by Issue). Returns how many.
  std::size_t SweepExpired(TokenClock::time_point now);

  std::size_t size() const;

 private:
  using Digest = std::array<std::uint8_t, 32>;
  struct DigestHash {
    std::size_t operator()(const Digest& d) const noexcept;
  };
  struct Entry {
    Digest digest;
    MacAddress mac;
    std::optional<Ipv4Address> bound_ip;
    std::int64_t issued_unix = 0;
    std::int64_t expires_unix = 0;
    int max_fetches = 0;
    int fetches = 0;
  };

  static std::optional<Digest> DigestOf(std::string_view token);
  void Persist(const Entry& entry);
  void SweepLocked(std::int64_t now_unix);
  void EvictLocked();

  const ConfigTokenOptions options_;
  Store* const store_;
  const LeaseCheck lease_check_;

  mutable std::mutex mu_;
  std::unordered_map<Digest, Entry, DigestHash> tokens_;
  std::int64_t last_sweep_unix_ = 0;
};

}  // namespace metalpxe
