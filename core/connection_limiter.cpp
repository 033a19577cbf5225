#include "core/connection_limiter.h"

namespace metalpxe {

ConnectionLimiter::Verdict ConnectionLimiter::Admit(const IpAddress& client) {
  auto it = per_client_.find(client);
  const std::size_t mine = it == per_client_.end() ? 0 : it->second;
  if (mine >= limits_.per_client) return Verdict::kClientFull;
  if (total_ >= limits_.total) return Verdict::kServerFull;
  if (it == per_client_.end()) it = per_client_.emplace(client, 0).first;
  ++it->second;
  ++total_;
  return Verdict::kAdmit;
}

void ConnectionLimiter::Release(const IpAddress& client) {
  auto it = per_client_.find(client);
  if (it == per_client_.end()) return;  // never admitted: nothing to give back
  if (--it->second == 0) per_client_.erase(it);
  --total_;
}

std::size_t ConnectionLimiter::Of(const IpAddress& client) const {
  auto it = per_client_.find(client);
  return it == per_client_.end() ? 0 : it->second;
}

const char* VerdictName(ConnectionLimiter::Verdict v) {
  switch (v) {
    case ConnectionLimiter::Verdict::kAdmit: return "admitted";
    case ConnectionLimiter::Verdict::kClientFull: return "client at its connection limit";
    case ConnectionLimiter::Verdict::kServerFull: return "server at its connection limit";
  }
  return "?";
}

}  // namespace metalpxe
