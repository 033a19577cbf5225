#pragma once
// A Redfish BMC for tests: serves the DMTF resources metalpxe uses (service
// root, SessionService/Sessions, Systems collection, one ComputerSystem with
// the ComputerSystem.Reset action and the Boot override) with the DMTF JSON
// shapes, ETags on the system, and knobs to misbehave (reset types, 412s,
// required If-Match, wrong credentials).
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "tests/ipmi/http_fixture.h"

namespace metalpxe::testing {

struct RedfishFixtureOptions {
  std::string username = "admin";
  std::string password = "secret";
  std::vector<std::string> reset_types{"On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart",
                                       "PowerCycle", "Nmi"};
  bool sessions = true;          // offer SessionService (else basic auth only)
  bool require_if_match = true;  // PATCH without If-Match -> 428
  int fail_patches_with_412 = 0; // first N PATCHes get 412 (someone else changed it)
  bool boot_mode_supported = true;
  std::string tls_cert, tls_key;  // HTTPS when set
};

class RedfishFixture {
 public:
  explicit RedfishFixture(RedfishFixtureOptions options = {});

  std::string url() const { return http_->url(); }
  std::uint16_t port() const { return http_->port(); }
  std::vector<std::string> Requests() const { return http_->Requests(); }

  std::string power() const;
  void set_power(const std::string& p);
  std::vector<std::string> resets() const;  // ResetType values accepted, in order
  std::string boot_target() const;
  std::string boot_enabled() const;
  std::string boot_mode() const;
  int patches_seen() const;
  std::vector<std::string> if_match_seen() const;
  int sessions_open() const;

 private:
  FixtureResponse Handle(const FixtureRequest& r);
  bool Authorized(const FixtureRequest& r) const;
  std::string SystemJson() const;
  std::string Etag() const { return "W/\"" + std::to_string(version_) + "\""; }

  RedfishFixtureOptions options_;
  mutable std::mutex mu_;
  std::string power_ = "Off";
  std::string boot_target_ = "None", boot_enabled_ = "Disabled", boot_mode_ = "Legacy";
  int version_ = 1;
  int patches_ = 0;
  std::vector<std::string> resets_, if_match_;
  std::set<std::string> tokens_;
  int next_session_ = 1;
  std::unique_ptr<HttpFixture> http_;
};

}  // namespace metalpxe::testing
