#pragma once
// The Hetzner Robot web service for tests, as strict as its documentation
// (robot.hetzner.com/doc/webservice): HTTPS when given a certificate, HTTP
// Basic auth, form-encoded POSTs, the JSON envelopes and error codes of
//   GET /server/{n}, GET|POST /reset/{n}, GET|POST|DELETE /boot/{n}/rescue,
//   POST /wol/{n}
// and the service's realities:
//   - each documented request limit per hour (403 RATE_LIMIT_EXCEEDED with
//     max_request and interval), scaled down by options for tests;
//   - 3 failed logins block the client address for 10 minutes: every request
//     from it, right password or not, gets 401 while blocked;
//   - maintenance: 503 for everything;
//   - INVALID_INPUT (400, with missing/invalid lists), SERVER_NOT_FOUND,
//     RESET_NOT_AVAILABLE, RESET_MANUAL_ACTIVE (409), BOOT_ALREADY_ENABLED
//     (409, an active rescue must be deleted before a new one);
//   - the rescue activation answers with the rescue system's host keys.
// A hook runs on each reset so the test can "boot the rescue system".
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tests/ipmi/http_fixture.h"

namespace metalpxe::testing {

struct RobotFixtureOptions {
  std::string user = "#ws+robotuser";
  std::string password = "robot-pass";
  std::string server_number = "321";
  std::string server_ip = "127.0.0.1";
  std::vector<std::string> reset_types{"sw", "hw", "man"};
  bool reset_available = true;        // false: /reset answers 404 RESET_NOT_AVAILABLE
  bool manual_reset_active = false;   // POST /reset answers 409 RESET_MANUAL_ACTIVE
  bool maintenance = false;           // every request: 503
  int rate_limited_requests = 0;      // the first N requests get 403 RATE_LIMIT_EXCEEDED
  // Documented per-hour limits, "METHOD /resource" -> max requests per
  // `limit_interval`; tests lower them to reach a limit in a few requests.
  std::map<std::string, int> limits{{"GET /server", 200},  {"GET /reset", 500},  {"POST /reset", 50},
                                    {"GET /boot", 500},    {"POST /boot", 500},  {"DELETE /boot", 500},
                                    {"POST /wol", 10}};
  std::chrono::seconds limit_interval{3600};
  std::chrono::seconds login_block{600};  // after 3 failed logins
  // The rescue system's host keys as the activation lists them: OpenSSH
  // public key lines ("ssh-ed25519 AAAA... comment") turned into
  // {"key":{"fingerprint","type","size"}} entries (MD5, like authorized_key).
  std::vector<std::string> rescue_host_keys;
  // Runs (outside the fixture's lock) on each accepted POST /reset with the
  // reset type, whether rescue was active and the authorized key it was given.
  std::function<void(const std::string& type, bool rescue_active, const std::string& key_fingerprint)> on_reset;
};

class RobotFixture {
 public:
  // The rescue system's root password, as Robot's activation answers it
  // (a secret: metalpxe logs in with its key and must never show this).
  static constexpr const char* kRescueRootPassword = "jEt0dtUvomlyOwRr";

  // tls_dir non-empty: HTTPS with a certificate made there (ca_file() trusts it).
  explicit RobotFixture(RobotFixtureOptions options = {}, const std::string& tls_dir = "");

  std::string url() const { return http_->url(); }
  std::string ca_file() const { return ca_file_; }
  std::vector<std::string> Requests() const { return http_->Requests(); }
  // What was done, in order: "rescue linux <fingerprint>", "reset hw", "wol", "rescue off".
  std::vector<std::string> Actions() const;
  int failed_logins() const;
  void SetMaintenance(bool on);

 private:
  FixtureResponse Handle(const FixtureRequest& r);
  FixtureResponse Route(const FixtureRequest& r, std::function<void()>& after);
  bool OverLimit(const std::string& key, FixtureResponse& out);

  RobotFixtureOptions options_;
  mutable std::mutex mu_;
  bool rescue_active_ = false;
  std::string rescue_key_;
  std::vector<std::string> actions_;
  int failed_logins_ = 0;
  std::chrono::steady_clock::time_point blocked_until_{};
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> seen_;
  std::string ca_file_;
  std::unique_ptr<HttpFixture> http_;
};

// MD5 fingerprint ("aa:bb:...") and key type/size of an OpenSSH public key line.
struct RobotKeyInfo {
  std::string fingerprint, type;
  int size = 0;
};
RobotKeyInfo DescribePublicKeyLine(const std::string& line);

}  // namespace metalpxe::testing
