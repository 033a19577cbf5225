#pragma once
// A Hetzner Robot web service for tests: basic auth, form posts, the JSON
// shapes and error codes of GET /server/{n}, GET|POST /reset/{n},
// POST|DELETE /boot/{n}/rescue, POST /wol/{n}, and 403 RATE_LIMIT_EXCEEDED
// for the first N requests when asked. A hook runs on a hardware reset so the
// test can "boot the rescue system" (start sshd).
#include <functional>
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
  int rate_limited_requests = 0;  // the first N requests get 403 RATE_LIMIT_EXCEEDED
  // Runs (on the server thread) for POST /reset type=hw with the rescue
  // state at that moment: active and the key fingerprint it was given.
  std::function<void(bool rescue_active, const std::string& key_fingerprint)> on_hw_reset;
};

class RobotFixture {
 public:
  explicit RobotFixture(RobotFixtureOptions options = {});

  std::string url() const { return http_->url(); }
  std::vector<std::string> Requests() const { return http_->Requests(); }
  // What was done, in order: "rescue linux <fingerprint>", "reset hw", "wol", "rescue off".
  std::vector<std::string> Actions() const;

 private:
  FixtureResponse Handle(const FixtureRequest& r);

  RobotFixtureOptions options_;
  mutable std::mutex mu_;
  bool rescue_active_ = false;
  std::string rescue_key_;
  std::vector<std::string> actions_;
  std::unique_ptr<HttpFixture> http_;
};

}  // namespace metalpxe::testing
