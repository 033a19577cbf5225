#include "ipmi/robot_client.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>

namespace metalpxe {

RobotClient::RobotClient(std::string base_url, std::string user, Secret password, HttpClientOptions http,
                         RetryPolicy retry)
    : base_url_(std::move(base_url)), user_(std::move(user)), password_(std::move(password)), http_(std::move(http)),
      retry_(retry) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

namespace {

// Robot blocks the client's address for 10 minutes after 3 failed logins,
// and every machine of a site usually shares one web-service user: after one
// 401 for a user (and password), nobody in this process asks Robot with them
// again for those 10 minutes, so a wrong password costs one failed login,
// not a locked-out appliance. A changed password may try at once.
class RobotLoginGuard {
 public:
  static RobotLoginGuard& Instance() {
    static RobotLoginGuard guard;
    return guard;
  }
  static std::string Key(const std::string& url, const std::string& user, const Secret& password) {
    return url + "\n" + user + "\n" + std::to_string(std::hash<std::string>{}(password.Reveal()));
  }
  // Seconds left of the refusal, 0 when asking is fine.
  long long RefusedFor(const std::string& key) {
    std::lock_guard l(mu_);
    auto it = refused_.find(key);
    if (it == refused_.end()) return 0;
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(it->second - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      refused_.erase(it);
      return 0;
    }
    return left.count() + 1;
  }
  void Refused(const std::string& key) {
    std::lock_guard l(mu_);
    refused_[key] = std::chrono::steady_clock::now() + kRobotLoginBlock;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> refused_;
};

}  // namespace

Status RobotClient::Classify(const HttpResponse& r, const std::string& what) const {
  if (r.status >= 200 && r.status < 300) return Status::Ok();
  const auto err = ParseRobotError(r.body);
  const std::string code = err ? err->code : "";
  std::string msg = "Hetzner Robot " + what + ": HTTP " + std::to_string(r.status);
  if (err) msg += " " + err->code + (err->message.empty() ? "" : " (" + err->message + ")");
  if (r.status == 401 || code == "UNAUTHORIZED")
    return {ErrorCode::kPermissionDenied,
            msg + "; check bmc.username '" + user_ +
                "' and its password. metalpxe does not retry: Robot blocks this address for 10 minutes after 3 "
                "failed logins"};
  if (code == "RATE_LIMIT_EXCEEDED") {
    if (err->max_request > 0)
      msg += "; Robot allows at most " + std::to_string(err->max_request) + " of these requests per " +
             std::to_string(err->interval) + " s";
    return {ErrorCode::kResourceExhausted, msg + "; metalpxe backed off and stopped, try again later"};
  }
  if (code == "SERVER_NOT_FOUND") return {ErrorCode::kInvalidArgument, msg + "; check the server number in bmc.address"};
  if (code == "RESET_MANUAL_ACTIVE")
    return {ErrorCode::kFailedPrecondition,
            msg + "; a manual reset by a Hetzner technician is pending for this server, wait for it to finish"};
  if (code == "RESET_NOT_AVAILABLE") return {ErrorCode::kUnsupported, msg + "; Robot offers no reset for this server"};
  if (code == "BOOT_NOT_AVAILABLE")
    return {ErrorCode::kUnsupported, msg + "; Robot offers no rescue system for this server"};
  if (code == "WOL_NOT_AVAILABLE" || code == "INVALID_INPUT" || code == "NOT_FOUND")
    return {ErrorCode::kUnsupported, msg};
  if (r.status == 503) return {ErrorCode::kUnavailable, msg + "; the Robot web service is down for maintenance"};
  if (r.status == 502 || r.status == 504) return {ErrorCode::kUnavailable, msg};
  if (r.status == 403) return {ErrorCode::kPermissionDenied, msg};
  return {ErrorCode::kInternal, msg};
}

Result<HttpResponse> RobotClient::Call(const std::string& method, const std::string& path,
                                       const std::vector<std::pair<std::string, std::string>>& form) {
  HttpRequest req;
  req.method = method;
  req.url = base_url_ + path;
  req.headers = {"Accept: application/json"};
  if (method == "POST") {
    req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    req.body = FormEncode(form);
  }
  req.basic_user = user_;
  req.basic_password = &password_;
  const std::string guard_key = RobotLoginGuard::Key(base_url_, user_, password_);
  if (const long long wait = RobotLoginGuard::Instance().RefusedFor(guard_key); wait > 0)
    return Status{ErrorCode::kPermissionDenied,
                  "Hetzner Robot refused web-service user '" + user_ + "' (HTTP 401) a moment ago; metalpxe asks " +
                      "again in " + std::to_string(wait) + " s or once the password changes (Robot blocks the " +
                      "address for 10 minutes after 3 failed logins)"};
  auto r = http_.Perform(req);
  if (r.ok() && r->status == 401) RobotLoginGuard::Instance().Refused(guard_key);
  return r;
}

Result<RobotServer> RobotClient::GetServer(const std::string& n) {
  return WithRetries(retry_, [&]() -> Result<RobotServer> {
    auto r = Call("GET", "/server/" + n);
    if (!r.ok()) return r.status();
    if (Status s = Classify(*r, "GET /server/" + n); !s.ok()) return s;
    return ParseRobotServer(r->body);
  });
}

Result<std::vector<std::string>> RobotClient::ResetTypes(const std::string& n) {
  return WithRetries(retry_, [&]() -> Result<std::vector<std::string>> {
    auto r = Call("GET", "/reset/" + n);
    if (!r.ok()) return r.status();
    if (Status s = Classify(*r, "GET /reset/" + n); !s.ok()) return s;
    return ParseRobotResetTypes(r->body);
  });
}

Status RobotClient::Reset(const std::string& n, const std::string& type) {
  return WithRetries(retry_, [&]() -> Status {
    spdlog::info("robot server {}: reset type={}", n, type);
    auto r = Call("POST", "/reset/" + n, {{"type", type}});
    if (!r.ok()) return r.status();
    return Classify(*r, "reset " + type + " of server " + n);
  });
}

Result<RobotRescue> RobotClient::ActivateRescue(const std::string& n, const std::string& fingerprint) {
  return WithRetries(retry_, [&]() -> Result<RobotRescue> {
    spdlog::info("robot server {}: activate rescue (linux, key {})", n, fingerprint);
    const std::vector<std::pair<std::string, std::string>> form{{"os", "linux"}, {"authorized_key", fingerprint}};
    auto r = Call("POST", "/boot/" + n + "/rescue", form);
    if (!r.ok()) return r.status();
    const auto err = ParseRobotError(r->body);
    if (r->status == 409 && err && err->code == "BOOT_ALREADY_ENABLED") {
      // Someone activated rescue already, maybe without our key: replace it.
      auto del = Call("DELETE", "/boot/" + n + "/rescue");
      if (!del.ok()) return del.status();
      if (Status s = Classify(*del, "deactivate rescue of server " + n); !s.ok()) return s;
      r = Call("POST", "/boot/" + n + "/rescue", form);
      if (!r.ok()) return r.status();
    }
    if (Status s = Classify(*r, "activate rescue of server " + n); !s.ok()) return s;
    return ParseRobotRescue(r->body);
  });
}

Status RobotClient::WakeOnLan(const std::string& n) {
  return WithRetries(retry_, [&]() -> Status {
    auto r = Call("POST", "/wol/" + n);
    if (!r.ok()) return r.status();
    return Classify(*r, "wake-on-LAN of server " + n);
  });
}

}  // namespace metalpxe
