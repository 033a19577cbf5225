#pragma once
// Config tokens: what lets one machine fetch its Talos config once its own
// iPXE script carried the token (`talos.config=http://…/config/<token>`).
//
// A token is signed, not stored (config_token_codec.h): it names its MAC,
// the address it is bound to (full-DHCP mode) and its expiry, under an HMAC
// keyed by a secret in stateDir. Checking one needs no lookup and no disk, so
// the /ipxe path writes nothing: a machine that asks again while its token
// has more than half its life left gets the same token back, and a flood of
// /ipxe requests issues nothing new. The only per-token state is the number
// of fetches (`configTokenMaxFetches`), kept in memory for tokens that were
// fetched at least once (a forged token never gets that far) and handed to
// the Store's group-committed writer, which persists them in batches, so a
// restart does not reset them. Thread-safe.
//
// One boot is three DHCP clients (firmware, iPXE, the Talos installer): when
// the fetching address differs from the bound one, the optional
// `LeaseCheck(mac, peer)` hook may still accept it when that address is
// leased to the same MAC. Over IPv6 the token is bound to the machine's
// DHCPv6 lease (a version-2 token, config_token_codec.h) and the
// `Ipv6LeaseOf(mac)` hook says which IPv6 address the MAC holds now. A token
// bound to an address of one family never opens from the other.
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/config.h"
#include "core/ipv6_leases.h"
#include "core/install/token_key.h"
#include "core/net_types.h"
#include "core/result.h"
#include "core/store.h"

namespace metalpxe {

using TokenClock = std::chrono::system_clock;

struct ConfigTokenOptions {
  std::chrono::seconds ttl{1800};
  int max_fetches = 5;
  // Several appliances share the store (etcd): a fetch first takes the
  // token's count as the store has it (fetches through other appliances),
  // so max_fetches bounds the fetches through all of them.
  bool shared_store = false;

  static ConfigTokenOptions FromBootConfig(const BootConfig& boot);
};

struct IssuedToken {
  std::string token;  // secret: goes into the machine's iPXE script only, never a log
  TokenClock::time_point expires;
  bool fresh = false;  // false: the machine's outstanding token, handed out again
};

// Why Redeem refused. The HTTP layer answers all of them with a bare 403; the
// kinds are for metrics and the event log. Each maps to its own ErrorCode.
enum class TokenRejection {
  kUnknown,   // ErrorCode::kNotFound: malformed, or a signature that does not verify
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
  // Which IPv6 address does the DHCPv6 server lease to `mac` now?
  using Ipv6LeaseOf = std::function<std::optional<Ipv6Address>(const MacAddress& mac)>;

  // `store` may be null (memory only); it must outlive the issuer.
  ConfigTokenIssuer(ConfigTokenOptions options, const TokenKey& key, Store* store = nullptr,
                    LeaseCheck lease_check = {}, Ipv6LeaseOf lease6_of = {});

  ConfigTokenIssuer(const ConfigTokenIssuer&) = delete;
  ConfigTokenIssuer& operator=(const ConfigTokenIssuer&) = delete;

  // The machine's outstanding token when it is bound the same way, has more
  // than half its life left and fetches left; otherwise a new one.
  IssuedToken Issue(const MacAddress& mac, std::optional<Ipv4Address> bound_ip, TokenClock::time_point now);
  // Bound to an IPv6 address (the machine's DHCPv6 lease).
  IssuedToken Issue(const MacAddress& mac, const Ipv6Address& bound_ip6, TokenClock::time_point now);

  // The MAC the token was issued for, counting one fetch; or a status whose
  // code TokenRejectionOf() turns into the reason.
  Result<MacAddress> Redeem(std::string_view token, const IpAddress& peer, TokenClock::time_point now);

  // Takes in the fetch counts of unexpired tokens a previous run persisted.
  Result<std::size_t> LoadFrom(Store& store, TokenClock::time_point now = TokenClock::now());

  // Drops expired state (also done now and then by Issue). Returns how many.
  std::size_t SweepExpired(TokenClock::time_point now);

  // Tokens with a fetch count held in memory.
  std::size_t fetched_tokens() const;

 private:
  IssuedToken IssueBound(const MacAddress& mac, std::optional<Ipv4Address> bound_ip,
                         std::optional<Ipv6Address> bound_ip6, TokenClock::time_point now);

  struct Outstanding {
    std::string token;
    std::optional<Ipv4Address> bound_ip;
    std::optional<Ipv6Address> bound_ip6;
    std::int64_t issued_unix = 0;
    std::int64_t expires_unix = 0;
    std::string id;
  };
  struct Fetches {
    MacAddress mac;
    std::optional<Ipv4Address> bound_ip;
    std::int64_t expires_unix = 0;
    int count = 0;
  };

  void Persist(const std::string& id, const Fetches& f);
  // shared_store: the stored count of `id` when it is higher than ours.
  void TakeStoredCount(const std::string& id);
  void SweepLocked(std::int64_t now_unix);
  int FetchesLocked(const std::string& id) const;

  const ConfigTokenOptions options_;
  const TokenKey key_;
  Store* const store_;
  const LeaseCheck lease_check_;
  const Ipv6LeaseOf lease6_of_;

  mutable std::mutex mu_;
  std::unordered_map<MacAddress, Outstanding> outstanding_;  // by MAC: one live token each
  std::unordered_map<std::string, Fetches> fetches_;         // by token id
  std::int64_t last_sweep_unix_ = 0;
};

}  // namespace metalpxe
