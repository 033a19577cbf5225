#pragma once
// Sessions of the status page: a bounded table of random ids, each valid
// for `idle` since its last use and `lifetime` since login. Only a
// successful login creates one, so a client without the password cannot
// fill the table or push anyone out; when logins fill it, the least
// recently used session goes. Ids are kept as SHA-256 digests, so the
// table's contents (a core dump) open nothing. Thread-safe.
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace metalpxe::ui {

struct UiSessionOptions {
  std::size_t max_sessions = 32;
  std::chrono::seconds idle{std::chrono::hours(8)};
  std::chrono::seconds lifetime{std::chrono::hours(24)};
};

class UiSessions {
 public:
  using Clock = std::chrono::steady_clock;
  explicit UiSessions(UiSessionOptions options = {}) : options_(options) {}

  // A new session id (64 hex characters) after a successful login.
  std::string Create(Clock::time_point now = Clock::now());
  // Whether the id names a live session; a live one is touched.
  bool Check(std::string_view id, Clock::time_point now = Clock::now());
  void Remove(std::string_view id);
  std::size_t size() const;
  std::chrono::seconds lifetime() const { return options_.lifetime; }

 private:
  struct Entry {
    Clock::time_point created, last_used;
  };
  static std::string Digest(std::string_view id);

  UiSessionOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> by_digest_;
};

}  // namespace metalpxe::ui
