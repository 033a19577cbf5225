#pragma once
// Client for the Hetzner Robot web service (https://robot-ws.your-server.de):
// basic auth, form-encoded POSTs, JSON answers. Errors are classified:
// 401 -> kPermissionDenied, never retried, and the user is not asked for
// again for kRobotLoginBlock (3 failed logins block the address); 403
// RATE_LIMIT_EXCEEDED -> kResourceExhausted (retried with backoff by the
// caller's RetryPolicy); unknown server -> kInvalidArgument; reset/rescue not
// available -> kUnsupported; RESET_MANUAL_ACTIVE -> kFailedPrecondition;
// 503 (maintenance) -> kUnavailable; other 5xx -> kInternal.
#include <chrono>
#include <string>
#include <vector>

#include "core/secret.h"
#include "ipmi/http_client.h"
#include "ipmi/retry.h"
#include "ipmi/robot_codec.h"

namespace metalpxe {

// How long Robot blocks an address after 3 failed logins (its documentation).
inline constexpr std::chrono::minutes kRobotLoginBlock{10};

class RobotClient {
 public:
  RobotClient(std::string base_url, std::string user, Secret password, HttpClientOptions http, RetryPolicy retry);

  Result<RobotServer> GetServer(const std::string& server_number);
  Result<std::vector<std::string>> ResetTypes(const std::string& server_number);
  // POST /reset/{n} type=sw|hw|man|power|power_long
  Status Reset(const std::string& server_number, const std::string& type);
  // POST /boot/{n}/rescue os=linux authorized_key=<fingerprint>; an already
  // active rescue (409 BOOT_ALREADY_ENABLED) is replaced, so our key is in it.
  Result<RobotRescue> ActivateRescue(const std::string& server_number, const std::string& key_fingerprint);
  Status WakeOnLan(const std::string& server_number);

 private:
  Result<HttpResponse> Call(const std::string& method, const std::string& path,
                            const std::vector<std::pair<std::string, std::string>>& form = {});
  Status Classify(const HttpResponse& r, const std::string& what) const;

  std::string base_url_, user_;
  Secret password_;
  HttpClient http_;
  RetryPolicy retry_;
};

}  // namespace metalpxe
