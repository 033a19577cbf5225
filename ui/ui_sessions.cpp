#include "ui/ui_sessions.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <stdexcept>

#include "core/hex.h"

namespace metalpxe::ui {
namespace {

std::string UiSessionHex(const unsigned char* p, std::size_t n) { return HexLower({p, n}); }

}  // namespace

std::string UiSessions::Digest(std::string_view id) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(id.data()), id.size(), d);
  return std::string(reinterpret_cast<const char*>(d), sizeof d);
}

std::string UiSessions::Create(Clock::time_point now) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("no random bytes for a session id");
  std::string id = UiSessionHex(raw, sizeof raw);
  std::lock_guard lock(mu_);
  // Expired ones first, then the least recently used while full.
  for (auto it = by_digest_.begin(); it != by_digest_.end();) {
    const bool dead = now - it->second.last_used > options_.idle || now - it->second.created > options_.lifetime;
    it = dead ? by_digest_.erase(it) : std::next(it);
  }
  while (!by_digest_.empty() && by_digest_.size() >= options_.max_sessions) {
    auto oldest = by_digest_.begin();
    for (auto it = by_digest_.begin(); it != by_digest_.end(); ++it)
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    by_digest_.erase(oldest);
  }
  by_digest_[Digest(id)] = {now, now};
  return id;
}

bool UiSessions::Check(std::string_view id, Clock::time_point now) {
  if (id.size() != 64) return false;
  const std::string d = Digest(id);
  std::lock_guard lock(mu_);
  auto it = by_digest_.find(d);
  if (it == by_digest_.end()) return false;
  if (now - it->second.last_used > options_.idle || now - it->second.created > options_.lifetime) {
    by_digest_.erase(it);
    return false;
  }
  it->second.last_used = now;
  return true;
}

void UiSessions::Remove(std::string_view id) {
  const std::string d = Digest(id);
  std::lock_guard lock(mu_);
  by_digest_.erase(d);
}

std::size_t UiSessions::size() const {
  std::lock_guard lock(mu_);
  return by_digest_.size();
}

}  // namespace metalpxe::ui
