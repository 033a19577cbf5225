#include "tests/ipmi/robot_fixture.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace metalpxe::testing {
namespace {

using nlohmann::json;

FixtureResponse RobotJson(int status, const json& body) { return {status, body.dump(), {}}; }

FixtureResponse RobotError(int status, const std::string& code, const std::string& message) {
  return RobotJson(status, {{"error", {{"status", status}, {"code", code}, {"message", message}}}});
}

}  // namespace

RobotFixture::RobotFixture(RobotFixtureOptions options) : options_(std::move(options)) {
  http_ = std::make_unique<HttpFixture>([this](const FixtureRequest& r) { return Handle(r); });
}

std::vector<std::string> RobotFixture::Actions() const {
  std::lock_guard l(mu_);
  return actions_;
}

FixtureResponse RobotFixture::Handle(const FixtureRequest& req) {
  std::function<void()> after;  // the reset hook runs outside the lock
  FixtureResponse out = [&]() -> FixtureResponse {
    std::lock_guard lock(mu_);
    if (req.basic_user != options_.user || req.basic_password != options_.password)
      return RobotError(401, "UNAUTHORIZED", "Unauthorized");
    if (options_.rate_limited_requests > 0) {
      --options_.rate_limited_requests;
      auto r = RobotJson(403, {{"error",
                           {{"status", 403},
                            {"code", "RATE_LIMIT_EXCEEDED"},
                            {"max_request", 200},
                            {"interval", 3600},
                            {"message", "Rate limit exceeded"}}}});
      return r;
    }
    const std::string& n = options_.server_number;
    const std::string& p = req.path;
    auto for_server = [&](const std::string& prefix) { return p == prefix + n; };
    const bool known = p.size() > n.size() && (p.compare(p.size() - n.size(), n.size(), n) == 0 ||
                                               p.find("/" + n + "/") != std::string::npos);
    if (!known) return RobotError(404, "SERVER_NOT_FOUND", "Server not found");

    if (req.method == "GET" && for_server("/server/"))
      return RobotJson(200, {{"server",
                         {{"server_ip", options_.server_ip},
                          {"server_ipv6_net", "2a01:4f8:111:4221::"},
                          {"server_number", std::stol(n)},
                          {"server_name", "metalpxe-test"},
                          {"product", "AX41"},
                          {"dc", "FSN1-DC1"},
                          {"traffic", "unlimited"},
                          {"status", "ready"},
                          {"cancelled", false},
                          {"paid_until", "2030-01-01"},
                          {"ip", json::array({options_.server_ip})},
                          {"subnet", nullptr}}}});
    if (req.method == "GET" && for_server("/reset/"))
      return RobotJson(200, {{"reset",
                         {{"server_ip", options_.server_ip},
                          {"server_ipv6_net", "2a01:4f8:111:4221::"},
                          {"server_number", std::stol(n)},
                          {"type", options_.reset_types},
                          {"operating_status", "not supported"}}}});
    if (req.method == "POST" && for_server("/reset/")) {
      auto t = req.args.find("type");
      if (t == req.args.end() ||
          std::find(options_.reset_types.begin(), options_.reset_types.end(), t->second) == options_.reset_types.end())
        return RobotError(400, "INVALID_INPUT", "invalid input");
      actions_.push_back("reset " + t->second);
      if (t->second == "hw" && options_.on_hw_reset) {
        const bool active = rescue_active_;
        const std::string key = rescue_key_;
        after = [this, active, key] { options_.on_hw_reset(active, key); };
        rescue_active_ = false;  // booting consumes the rescue activation
      }
      return RobotJson(200, {{"reset", {{"server_ip", options_.server_ip}, {"server_number", std::stol(n)}, {"type", t->second}}}});
    }
    if (p == "/boot/" + n + "/rescue") {
      auto rescue = [&] {
        json keys = json::array();
        if (!rescue_key_.empty())
          keys.push_back({{"key", {{"name", "metalpxe"}, {"fingerprint", rescue_key_}, {"type", "ED25519"}, {"size", 256}}}});
        return json{{"rescue",
                     {{"server_ip", options_.server_ip},
                      {"server_ipv6_net", "2a01:4f8:111:4221::"},
                      {"server_number", std::stol(n)},
                      {"os", "linux"},
                      {"arch", 64},
                      {"active", rescue_active_},
                      {"password", nullptr},
                      {"authorized_key", keys},
                      {"host_key", json::array()},
                      {"boot_time", nullptr}}}};
      };
      if (req.method == "GET") return RobotJson(200, rescue());
      if (req.method == "DELETE") {
        rescue_active_ = false;
        rescue_key_.clear();
        actions_.push_back("rescue off");
        return RobotJson(200, rescue());
      }
      if (req.method == "POST") {
        if (rescue_active_) return RobotError(409, "BOOT_ALREADY_ENABLED", "A boot option is already active");
        auto os = req.args.find("os");
        if (os == req.args.end() || os->second != "linux") return RobotError(400, "INVALID_INPUT", "invalid input");
        auto key = req.args.find("authorized_key");
        rescue_key_ = key == req.args.end() ? "" : key->second;
        rescue_active_ = true;
        actions_.push_back("rescue linux " + rescue_key_);
        return RobotJson(200, rescue());
      }
    }
    if (req.method == "POST" && for_server("/wol/")) {
      actions_.push_back("wol");
      return RobotJson(200, {{"wol", {{"server_ip", options_.server_ip}, {"server_number", std::stol(n)}}}});
    }
    return RobotError(404, "NOT_FOUND", "Not found");
  }();
  if (after) after();
  return out;
}

}  // namespace metalpxe::testing
