#include "tests/ipmi/robot_fixture.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "tests/support/subprocess.h"

namespace metalpxe::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

FixtureResponse RobotJson(int status, const json& body) { return {status, body.dump(), {}}; }

FixtureResponse RobotError(int status, const std::string& code, const std::string& message) {
  return RobotJson(status, {{"error", {{"status", status}, {"code", code}, {"message", message}}}});
}

FixtureResponse RobotInvalidInput(const std::vector<std::string>& missing, const std::vector<std::string>& invalid) {
  json m = missing.empty() ? json(nullptr) : json(missing);
  json i = invalid.empty() ? json(nullptr) : json(invalid);
  return RobotJson(400, {{"error",
                          {{"status", 400}, {"code", "INVALID_INPUT"}, {"message", "invalid input"},
                           {"missing", m}, {"invalid", i}}}});
}

// "/boot/321/rescue" -> {"boot", "321", "rescue"}
std::vector<std::string> RobotPathParts(const std::string& path) {
  std::vector<std::string> out;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '/'))
    if (!part.empty()) out.push_back(part);
  return out;
}

}  // namespace

RobotKeyInfo DescribePublicKeyLine(const std::string& line) {
  char tmpl[] = "/tmp/mpx-robotkey-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error("mkstemp");
  ::close(fd);
  std::ofstream(tmpl) << line << "\n";
  auto r = RunCommand({"ssh-keygen", "-l", "-E", "md5", "-f", tmpl});
  ::unlink(tmpl);
  // "256 MD5:aa:bb:... comment (ED25519)"
  RobotKeyInfo info;
  const auto md5 = r.output.find("MD5:");
  const auto open = r.output.rfind('(');
  if (r.exit_code != 0 || md5 == std::string::npos || open == std::string::npos)
    throw std::runtime_error("ssh-keygen -l failed: " + r.output);
  info.size = std::stoi(r.output);
  info.fingerprint = r.output.substr(md5 + 4, r.output.find(' ', md5) - md5 - 4);
  info.type = r.output.substr(open + 1, r.output.find(')', open) - open - 1);
  return info;
}

RobotFixture::RobotFixture(RobotFixtureOptions options, const std::string& tls_dir) : options_(std::move(options)) {
  auto handler = [this](const FixtureRequest& r) { return Handle(r); };
  if (tls_dir.empty()) {
    http_ = std::make_unique<HttpFixture>(handler);
  } else {
    auto [cert, key] = MakeSelfSignedCert(tls_dir);
    ca_file_ = tls_dir + "/cert.pem";
    http_ = std::make_unique<HttpFixture>(handler, cert, key);
  }
}

std::vector<std::string> RobotFixture::Actions() const {
  std::lock_guard l(mu_);
  return actions_;
}

int RobotFixture::failed_logins() const {
  std::lock_guard l(mu_);
  return failed_logins_;
}

void RobotFixture::SetMaintenance(bool on) {
  std::lock_guard l(mu_);
  options_.maintenance = on;
}

bool RobotFixture::OverLimit(const std::string& key, FixtureResponse& out) {
  auto limit = options_.limits.find(key);
  if (limit == options_.limits.end()) return false;
  auto& seen = seen_[key];
  const auto now = Clock::now();
  seen.erase(std::remove_if(seen.begin(), seen.end(), [&](auto t) { return now - t >= options_.limit_interval; }),
             seen.end());
  if (int(seen.size()) >= limit->second) {
    out = RobotJson(403, {{"error",
                           {{"status", 403},
                            {"code", "RATE_LIMIT_EXCEEDED"},
                            {"max_request", limit->second},
                            {"interval", options_.limit_interval.count()},
                            {"message", "rate limit exceeded"}}}});
    return true;
  }
  seen.push_back(now);
  return false;
}

FixtureResponse RobotFixture::Handle(const FixtureRequest& req) {
  std::function<void()> after;  // the reset hook runs outside the lock
  FixtureResponse out = [&]() -> FixtureResponse {
    std::lock_guard lock(mu_);
    if (options_.maintenance) return {503, "Service Unavailable: maintenance", {{"Content-Type", "text/plain"}}};
    // The block counts from the third failure; while it lasts nothing gets in.
    if (Clock::now() < blocked_until_) return RobotError(401, "UNAUTHORIZED", "Unauthorized");
    if (req.basic_user != options_.user || req.basic_password != options_.password) {
      if (++failed_logins_ % 3 == 0) blocked_until_ = Clock::now() + options_.login_block;
      return RobotError(401, "UNAUTHORIZED", "Unauthorized");
    }
    if (options_.rate_limited_requests > 0) {
      --options_.rate_limited_requests;
      return RobotJson(403, {{"error",
                              {{"status", 403},
                               {"code", "RATE_LIMIT_EXCEEDED"},
                               {"max_request", 200},
                               {"interval", 3600},
                               {"message", "rate limit exceeded"}}}});
    }
    return Route(req, after);
  }();
  if (after) after();
  return out;
}

FixtureResponse RobotFixture::Route(const FixtureRequest& req, std::function<void()>& after) {
  const auto parts = RobotPathParts(req.path);
  if (parts.size() < 2) return RobotError(404, "NOT_FOUND", "Not found");
  const std::string& resource = parts[0];
  FixtureResponse limited;
  if (OverLimit(req.method + " /" + resource, limited)) return limited;
  if (req.method == "POST" && req.headers.count("content-type") &&
      req.headers.at("content-type").rfind("application/x-www-form-urlencoded", 0) != 0)
    return RobotInvalidInput({}, {"content-type"});
  const std::string& n = options_.server_number;
  if (parts[1] != n) return RobotError(404, "SERVER_NOT_FOUND", "Server with id " + parts[1] + " not found");
  const long number = std::stol(n);
  const json ids = {{"server_ip", options_.server_ip}, {"server_ipv6_net", "2a01:4f8:111:4221::"},
                    {"server_number", number}};
  auto with_ids = [&](json fields) {
    for (auto& [k, v] : ids.items()) fields[k] = v;
    return fields;
  };

  if (resource == "server" && parts.size() == 2 && req.method == "GET")
    return RobotJson(200, {{"server", with_ids({{"server_name", "metalpxe-test"}, {"product", "AX41-NVMe"},
                                                 {"dc", "FSN1-DC1"}, {"traffic", "unlimited"}, {"status", "ready"},
                                                 {"cancelled", false}, {"paid_until", "2030-01-01"},
                                                 {"ip", json::array({options_.server_ip})}, {"subnet", nullptr},
                                                 {"reset", options_.reset_available}, {"rescue", true},
                                                 {"wol", true}})}});

  if (resource == "reset" && parts.size() == 2) {
    if (!options_.reset_available) return RobotError(404, "RESET_NOT_AVAILABLE", "The server has no reset option");
    if (req.method == "GET")
      return RobotJson(200, {{"reset", with_ids({{"type", options_.reset_types},
                                                 {"operating_status", "not supported"}})}});
    if (req.method == "POST") {
      auto t = req.args.find("type");
      if (t == req.args.end()) return RobotInvalidInput({"type"}, {});
      if (std::find(options_.reset_types.begin(), options_.reset_types.end(), t->second) == options_.reset_types.end())
        return RobotInvalidInput({}, {"type"});
      if (options_.manual_reset_active)
        return RobotError(409, "RESET_MANUAL_ACTIVE", "There is already a running manual reset");
      actions_.push_back("reset " + t->second);
      if (options_.on_reset) {
        const bool active = rescue_active_;
        const std::string key = rescue_key_, type = t->second;
        after = [this, type, active, key] { options_.on_reset(type, active, key); };
      }
      if (t->second != "man") rescue_active_ = false;  // booting consumes the rescue activation
      return RobotJson(200, {{"reset", with_ids({{"type", t->second}})}});
    }
  }

  if (resource == "boot" && parts.size() == 3 && parts[2] == "rescue") {
    auto rescue = [&](bool with_password) {
      json authorized = json::array(), host = json::array();
      if (rescue_active_ && !rescue_key_.empty())
        authorized.push_back({{"key", {{"name", "metalpxe"}, {"fingerprint", rescue_key_}, {"type", "ED25519"},
                                       {"size", 256}}}});
      if (rescue_active_)
        for (const auto& line : options_.rescue_host_keys) {
          const RobotKeyInfo k = DescribePublicKeyLine(line);
          host.push_back({{"key", {{"fingerprint", k.fingerprint}, {"type", k.type}, {"size", k.size}}}});
        }
      json fields = {{"active", rescue_active_}, {"authorized_key", authorized}, {"host_key", host}};
      if (rescue_active_) {
        fields["os"] = "linux";
        fields["password"] = with_password ? json(kRescueRootPassword) : json(nullptr);
      } else {
        fields["os"] = json::array({"linux", "vkvm"});
        fields["password"] = nullptr;
      }
      return json{{"rescue", with_ids(fields)}};
    };
    if (req.method == "GET") return RobotJson(200, rescue(false));
    if (req.method == "DELETE") {
      rescue_active_ = false;
      rescue_key_.clear();
      actions_.push_back("rescue off");
      return RobotJson(200, rescue(false));
    }
    if (req.method == "POST") {
      auto os = req.args.find("os");
      if (os == req.args.end()) return RobotInvalidInput({"os"}, {});
      if (os->second != "linux" && os->second != "vkvm") return RobotInvalidInput({}, {"os"});
      if (rescue_active_) return RobotError(409, "BOOT_ALREADY_ENABLED", "A boot option is already active");
      auto key = req.args.find("authorized_key");
      if (key != req.args.end() && key->second.size() != 47) return RobotInvalidInput({}, {"authorized_key"});
      rescue_key_ = key == req.args.end() ? "" : key->second;
      rescue_active_ = true;
      actions_.push_back("rescue " + os->second + " " + rescue_key_);
      return RobotJson(200, rescue(true));
    }
  }

  if (resource == "wol" && parts.size() == 2 && req.method == "POST") {
    actions_.push_back("wol");
    return RobotJson(200, {{"wol", ids}});
  }
  return RobotError(404, "NOT_FOUND", "Not found");
}

}  // namespace metalpxe::testing
