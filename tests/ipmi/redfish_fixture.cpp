#include "tests/ipmi/redfish_fixture.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace metalpxe::testing {
namespace {

using nlohmann::json;
constexpr const char* kSystem = "/redfish/v1/Systems/1";
constexpr const char* kSessions = "/redfish/v1/SessionService/Sessions";

FixtureResponse RedfishJson(int status, const json& body, std::map<std::string, std::string> headers = {}) {
  headers["OData-Version"] = "4.0";
  return {status, body.dump(), std::move(headers)};
}

// DMTF error shape with a Base registry message.
FixtureResponse RedfishError(int status, const std::string& id, const std::string& message) {
  return RedfishJson(status, {{"error",
                        {{"code", "Base.1.8." + id},
                         {"message", message},
                         {"@Message.ExtendedInfo",
                          json::array({{{"@odata.type", "#Message.v1_1_1.Message"},
                                        {"MessageId", "Base.1.8." + id},
                                        {"Message", message},
                                        {"Severity", "Warning"},
                                        {"Resolution", "See the allowed values."}}})}}}});
}

}  // namespace

RedfishFixture::RedfishFixture(RedfishFixtureOptions options) : options_(std::move(options)) {
  http_ = std::make_unique<HttpFixture>([this](const FixtureRequest& r) { return Handle(r); }, options_.tls_cert,
                                        options_.tls_key);
}

std::string RedfishFixture::power() const { std::lock_guard l(mu_); return power_; }
void RedfishFixture::set_power(const std::string& p) { std::lock_guard l(mu_); power_ = p; ++version_; }
std::vector<std::string> RedfishFixture::resets() const { std::lock_guard l(mu_); return resets_; }
std::string RedfishFixture::boot_target() const { std::lock_guard l(mu_); return boot_target_; }
std::string RedfishFixture::boot_enabled() const { std::lock_guard l(mu_); return boot_enabled_; }
std::string RedfishFixture::boot_mode() const { std::lock_guard l(mu_); return boot_mode_; }
int RedfishFixture::patches_seen() const { std::lock_guard l(mu_); return patches_; }
std::vector<std::string> RedfishFixture::if_match_seen() const { std::lock_guard l(mu_); return if_match_; }
int RedfishFixture::sessions_open() const { std::lock_guard l(mu_); return int(tokens_.size()); }

bool RedfishFixture::Authorized(const FixtureRequest& r) const {
  auto tok = r.headers.find("x-auth-token");
  if (tok != r.headers.end()) return tokens_.count(tok->second) > 0;
  return r.basic_user == options_.username && r.basic_password == options_.password;
}

std::string RedfishFixture::SystemJson() const {
  json boot{{"BootSourceOverrideTarget", boot_target_},
            {"BootSourceOverrideEnabled", boot_enabled_},
            {"BootSourceOverrideTarget@Redfish.AllowableValues",
             json::array({"None", "Pxe", "Floppy", "Cd", "Usb", "Hdd", "BiosSetup", "UefiTarget"})}};
  if (options_.boot_mode_supported) boot["BootSourceOverrideMode"] = boot_mode_;
  json reset{{"target", std::string(kSystem) + "/Actions/ComputerSystem.Reset"},
             {"ResetType@Redfish.AllowableValues", options_.reset_types}};
  return json{{"@odata.type", "#ComputerSystem.v1_13_0.ComputerSystem"},
              {"@odata.id", kSystem},
              {"@odata.etag", Etag()},
              {"Id", "1"},
              {"Name", "metalpxe test system"},
              {"SystemType", "Physical"},
              {"Manufacturer", "metalpxe"},
              {"Model", "fixture"},
              {"UUID", "38947555-7742-3448-3784-823347823834"},
              {"PowerState", power_},
              {"Status", {{"State", "Enabled"}, {"Health", "OK"}}},
              {"Boot", boot},
              {"Actions", {{"#ComputerSystem.Reset", reset}}}}
      .dump();
}

FixtureResponse RedfishFixture::Handle(const FixtureRequest& req) {
  std::lock_guard lock(mu_);
  std::string path = req.path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const std::string& m = req.method;

  // Unauthenticated by the spec: /redfish and the service root.
  if (m == "GET" && path == "/redfish") return RedfishJson(200, {{"v1", "/redfish/v1/"}});
  if (m == "GET" && path == "/redfish/v1") {
    json root{{"@odata.type", "#ServiceRoot.v1_5_0.ServiceRoot"},
              {"@odata.id", "/redfish/v1"},
              {"Id", "RootService"},
              {"Name", "Root Service"},
              {"RedfishVersion", "1.11.0"},
              {"UUID", "92384634-2938-2342-8820-489239905423"},
              {"Systems", {{"@odata.id", "/redfish/v1/Systems"}}}};
    if (options_.sessions) {
      root["SessionService"] = {{"@odata.id", "/redfish/v1/SessionService"}};
      root["Links"] = {{"Sessions", {{"@odata.id", kSessions}}}};
    }
    return RedfishJson(200, root);
  }
  if (options_.sessions && m == "POST" && path == kSessions) {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return RedfishError(400, "MalformedJSON", "The request body is malformed.");
    if (body.value("UserName", "") != options_.username || body.value("Password", "") != options_.password)
      return RedfishError(401, "NoValidSession", "Invalid user name or password.");
    const std::string id = std::to_string(next_session_++);
    const std::string token = "tok-" + id + "-" + std::to_string(version_ * 7919);
    tokens_.insert(token);
    const std::string uri = std::string(kSessions) + "/" + id;
    return RedfishJson(201,
                {{"@odata.type", "#Session.v1_3_0.Session"}, {"@odata.id", uri}, {"Id", id}, {"Name", "Session"},
                 {"UserName", options_.username}},
                {{"X-Auth-Token", token}, {"Location", uri}});
  }
  if (!Authorized(req)) return RedfishError(401, "NoValidSession", "There is no valid session established.");

  if (m == "DELETE" && path.rfind(std::string(kSessions) + "/", 0) == 0) {
    tokens_.erase(req.headers.at("x-auth-token"));
    return {204, "", {}};
  }
  if (m == "GET" && path == "/redfish/v1/SessionService")
    return RedfishJson(200, {{"@odata.type", "#SessionService.v1_1_8.SessionService"},
                      {"@odata.id", "/redfish/v1/SessionService"},
                      {"Id", "SessionService"},
                      {"Name", "Session Service"},
                      {"ServiceEnabled", true},
                      {"SessionTimeout", 600},
                      {"Sessions", {{"@odata.id", kSessions}}}});
  if (m == "GET" && path == "/redfish/v1/Systems")
    return RedfishJson(200, {{"@odata.type", "#ComputerSystemCollection.ComputerSystemCollection"},
                      {"@odata.id", "/redfish/v1/Systems"},
                      {"Name", "Computer System Collection"},
                      {"Members@odata.count", 1},
                      {"Members", json::array({{{"@odata.id", kSystem}}})}});
  if (m == "GET" && path == kSystem) return {200, SystemJson(), {{"ETag", Etag()}, {"OData-Version", "4.0"}}};
  if (m == "PATCH" && path == kSystem) {
    ++patches_;
    auto im = req.headers.find("if-match");
    if_match_.push_back(im == req.headers.end() ? "" : im->second);
    if (options_.fail_patches_with_412 > 0) {
      --options_.fail_patches_with_412;
      ++version_;  // "someone else" changed it
      return RedfishError(412, "PreconditionFailed", "The ETag supplied did not match the ETag required to change this resource.");
    }
    if (im == req.headers.end() && options_.require_if_match)
      return RedfishError(428, "PreconditionRequired", "A precondition header or annotation is required to change this resource.");
    if (im != req.headers.end() && im->second != Etag() && im->second != "*")
      return RedfishError(412, "PreconditionFailed", "The ETag supplied did not match the ETag required to change this resource.");
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("Boot") || !body["Boot"].is_object())
      return RedfishError(400, "MalformedJSON", "The request body is malformed.");
    const json& b = body["Boot"];
    if (b.contains("BootSourceOverrideMode") && !options_.boot_mode_supported)
      return RedfishError(400, "PropertyUnknown", "The property BootSourceOverrideMode is not in the list of valid properties.");
    if (b.contains("BootSourceOverrideTarget")) boot_target_ = b.value("BootSourceOverrideTarget", "");
    if (b.contains("BootSourceOverrideEnabled")) boot_enabled_ = b.value("BootSourceOverrideEnabled", "");
    if (b.contains("BootSourceOverrideMode")) boot_mode_ = b.value("BootSourceOverrideMode", "");
    ++version_;
    return {204, "", {{"ETag", Etag()}}};
  }
  if (m == "POST" && path == std::string(kSystem) + "/Actions/ComputerSystem.Reset") {
    json body = json::parse(req.body, nullptr, false);
    const std::string type = body.is_object() ? body.value("ResetType", "") : "";
    if (std::find(options_.reset_types.begin(), options_.reset_types.end(), type) == options_.reset_types.end())
      return RedfishError(400, "ActionParameterValueNotInList",
                   "The value '" + type + "' for the parameter ResetType in the action ComputerSystem.Reset is not in the list of acceptable values.");
    resets_.push_back(type);
    if (type == "On" || type == "ForceOn") power_ = "On";
    if (type == "ForceOff" || type == "GracefulShutdown") power_ = "Off";
    if (type == "PowerCycle" || type == "ForceRestart" || type == "GracefulRestart") power_ = "On";
    ++version_;
    return {204, "", {}};
  }
  return RedfishError(404, "ResourceNotFound", "The requested resource of type Resource named '" + path + "' was not found.");
}

}  // namespace metalpxe::testing
