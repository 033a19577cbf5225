#include "ipmi/redfish_driver.h"

#include <algorithm>
#include <chrono>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace metalpxe {
namespace {

constexpr const char* kServiceRoot = "/redfish/v1";
const std::vector<std::string> kJson{"Content-Type: application/json", "Accept: application/json"};

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

bool IsAbsolute(const std::string& path) { return path.rfind("http://", 0) == 0 || path.rfind("https://", 0) == 0; }

}  // namespace

Result<RedfishTarget> ParseRedfishAddress(std::string_view address) {
  std::string a(address);
  while (!a.empty() && a.back() == '/') a.pop_back();
  if (a.empty()) return Status{ErrorCode::kInvalidArgument, "redfish BMC needs an address (host[:port] or URL)"};
  if (!IsAbsolute(a)) a = "https://" + a;
  const auto scheme_end = a.find("://") + 3;
  const auto path_start = a.find('/', scheme_end);
  RedfishTarget t;
  t.base_url = a.substr(0, path_start);
  if (t.base_url.size() <= scheme_end) return Status{ErrorCode::kInvalidArgument, "redfish address has no host: " + a};
  if (path_start != std::string::npos) {
    std::string path = a.substr(path_start);
    if (path.rfind("/redfish/v1/Systems/", 0) == 0 && path.size() > 20) {
      t.system_path = path;
    } else if (path != kServiceRoot && path != "/redfish" && path != "/redfish/v1/Systems") {
      return Status{ErrorCode::kInvalidArgument,
                    "redfish address path must be /redfish/v1/Systems/<id> (or none): " + path};
    }
  }
  return t;
}

RedfishPowerDriver::RedfishPowerDriver(RedfishTarget target, PowerContext context)
    : target_(std::move(target)),
      context_(std::move(context)),
      http_(HttpClientOptions{context_.request_timeout, !target_.insecure_tls, context_.ca_file}) {
  system_path_ = target_.system_path;
}

RedfishPowerDriver::~RedfishPowerDriver() {
  if (!session_uri_.empty()) {
    HttpRequest req{"DELETE", IsAbsolute(session_uri_) ? session_uri_ : target_.base_url + session_uri_,
                    {"X-Auth-Token: " + token_}, "", "", nullptr};
    (void)http_.Perform(req);  // best effort: the BMC expires it anyway
  }
}

PowerCapabilities RedfishPowerDriver::Capabilities() const {
  return {.power_state = true, .power_on = true, .power_off = true, .power_cycle = true, .network_boot = true,
          .kexec_reinstall = false};
}

Status RedfishPowerDriver::Login() {
  token_.clear();
  session_uri_.clear();
  HttpRequest root_req{"GET", target_.base_url + kServiceRoot, {"Accept: application/json"}, "", "", nullptr};
  auto root = http_.Perform(root_req);
  if (!root.ok()) return root.status();
  if (root->status == 401 || root->status == 403) {
    basic_ = true;  // a service root behind auth: no anonymous discovery, use basic
    logged_in_ = true;
    return Status::Ok();
  }
  if (Status s = Check(*root, "GET " + std::string(kServiceRoot)); !s.ok()) return s;
  auto parsed = ParseRedfishServiceRoot(root->body);
  if (!parsed.ok()) return parsed.status();
  if (parsed->sessions_path.empty()) {
    basic_ = true;
    logged_in_ = true;
    return Status::Ok();
  }
  const std::string body =
      nlohmann::json{{"UserName", target_.username}, {"Password", target_.password.Reveal()}}.dump();
  HttpRequest req{"POST", target_.base_url + parsed->sessions_path, kJson, body, "", nullptr};
  auto r = http_.Perform(req);
  if (!r.ok()) return r.status();
  if (r->status == 404 || r->status == 405 || r->status == 501) {
    basic_ = true;
  } else if (r->status == 401 || r->status == 403 || r->status == 400) {
    return {ErrorCode::kPermissionDenied, "Redfish " + target_.base_url + ": login as '" + target_.username +
                                              "' refused (HTTP " + std::to_string(r->status) + ")"};
  } else if (Status s = Check(*r, "POST " + parsed->sessions_path); !s.ok()) {
    return s;
  } else {
    token_ = r->Header("x-auth-token");
    session_uri_ = r->Header("location");
    if (token_.empty()) basic_ = true;  // created, but no token: fall back to basic
  }
  logged_in_ = true;
  return Status::Ok();
}

Result<HttpResponse> RedfishPowerDriver::Call(const std::string& method, const std::string& path,
                                              const std::string& body, const std::vector<std::string>& headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!logged_in_)
      if (Status s = Login(); !s.ok()) return s;
    HttpRequest req{method, IsAbsolute(path) ? path : target_.base_url + path, kJson, body, "", nullptr};
    req.headers.insert(req.headers.end(), headers.begin(), headers.end());
    if (basic_) {
      req.basic_user = target_.username;
      req.basic_password = &target_.password;
    } else {
      req.headers.push_back("X-Auth-Token: " + token_);
    }
    auto r = http_.Perform(req);
    if (!r.ok()) return r;
    // An expired session answers 401: log in again once.
    if (r->status == 401 && !basic_ && attempt == 0) {
      logged_in_ = false;
      session_uri_.clear();
      continue;
    }
    return r;
  }
  return Status{ErrorCode::kInternal, "unreachable"};
}

Status RedfishPowerDriver::Check(const HttpResponse& r, const std::string& what) const {
  if (r.status >= 200 && r.status < 300) return Status::Ok();
  std::string detail = ParseRedfishError(r.body);
  const std::string msg = "Redfish " + target_.base_url + " " + what + ": HTTP " + std::to_string(r.status) +
                          (detail.empty() ? "" : " (" + detail + ")");
  switch (r.status) {
    case 401:
    case 403: return {ErrorCode::kPermissionDenied, msg};
    case 405:
    case 501: return {ErrorCode::kUnsupported, msg};
    case 400: return {RedfishErrorIsUnsupportedValue(r.body) ? ErrorCode::kUnsupported : ErrorCode::kInternal, msg};
    case 429: return {ErrorCode::kResourceExhausted, msg};
    case 502:
    case 503:
    case 504: return {ErrorCode::kUnavailable, msg};
    default: return {ErrorCode::kInternal, msg};
  }
}

Result<std::string> RedfishPowerDriver::SystemPath() {
  if (!system_path_.empty()) return system_path_;
  auto r = Call("GET", std::string(kServiceRoot) + "/Systems");
  if (!r.ok()) return r.status();
  if (Status s = Check(*r, "GET /redfish/v1/Systems"); !s.ok()) return s;
  auto members = ParseRedfishCollection(r->body);
  if (!members.ok()) return members.status();
  if (members->empty()) return Status{ErrorCode::kInternal, "Redfish " + target_.base_url + " lists no systems"};
  system_path_ = members->front();
  return system_path_;
}

Result<RedfishSystem> RedfishPowerDriver::FetchSystem(std::string* etag) {
  auto path = SystemPath();
  if (!path.ok()) return path.status();
  auto r = Call("GET", *path);
  if (!r.ok()) return r.status();
  if (Status s = Check(*r, "GET " + *path); !s.ok()) return s;
  auto system = ParseRedfishSystem(r->body);
  if (!system.ok()) return system.status();
  if (etag) *etag = !r->Header("etag").empty() ? r->Header("etag") : system->etag;
  return system;
}

Result<std::vector<std::string>> RedfishPowerDriver::AllowedResetTypes(const RedfishSystem& system) {
  if (!system.reset_types.empty() || system.reset_action_info.empty()) return system.reset_types;
  auto r = Call("GET", system.reset_action_info);
  if (!r.ok()) return r.status();
  if (!(r->status >= 200 && r->status < 300)) return std::vector<std::string>{};  // not advertised after all
  return ParseRedfishActionInfo(r->body, "ResetType");
}

Status RedfishPowerDriver::Reset(const RedfishSystem& system, const std::string& type) {
  const std::string target =
      system.reset_target.empty() ? system_path_ + "/Actions/ComputerSystem.Reset" : system.reset_target;
  spdlog::info("redfish {}: {} ResetType={}", target_.base_url, system_path_, type);
  auto r = Call("POST", target, RedfishResetBody(type));
  if (!r.ok()) return r.status();
  if (r->status == 404) return {ErrorCode::kUnsupported, "Redfish " + target_.base_url + ": no Reset action at " + target};
  return Check(*r, "Reset " + type);
}

Status RedfishPowerDriver::WaitForPowerState(const std::string& wanted) {
  // Bounded: a few request timeouts' worth of polls.
  const auto deadline = std::chrono::steady_clock::now() + 3 * context_.request_timeout;
  while (true) {
    auto system = FetchSystem();
    if (!system.ok()) return system.status();
    if (system->power_state == wanted) return Status::Ok();
    if (std::chrono::steady_clock::now() >= deadline)
      return {ErrorCode::kInternal, "Redfish " + target_.base_url + ": system still " + system->power_state +
                                        ", expected " + wanted};
    SleepFor(std::chrono::milliseconds(200));
  }
}

Result<PowerState> RedfishPowerDriver::GetPowerState() {
  return WithRetries(context_.retry, [&]() -> Result<PowerState> {
    auto system = FetchSystem();
    if (!system.ok()) return system.status();
    if (system->power_state == "On" || system->power_state == "PoweringOff") return PowerState::kOn;
    if (system->power_state == "Off" || system->power_state == "PoweringOn") return PowerState::kOff;
    return PowerState::kUnknown;
  });
}

Status RedfishPowerDriver::PowerOn() { return WithRetries(context_.retry, [&] { return DoPowerOn(); }); }
Status RedfishPowerDriver::PowerOff() { return WithRetries(context_.retry, [&] { return DoPowerOff(); }); }
Status RedfishPowerDriver::PowerCycle() { return WithRetries(context_.retry, [&] { return DoPowerCycle(); }); }
Status RedfishPowerDriver::SetNextBootNetwork(bool efi) {
  return WithRetries(context_.retry, [&] { return DoSetNextBootNetwork(efi); });
}

Status RedfishPowerDriver::DoPowerOn() {
  auto system = FetchSystem();
  if (!system.ok()) return system.status();
  if (system->power_state == "On") return Status::Ok();
  auto allowed = AllowedResetTypes(*system);
  if (!allowed.ok()) return allowed.status();
  auto on = ChooseRedfishOn(*allowed);
  if (!on) return {ErrorCode::kUnsupported, "Redfish " + target_.base_url + " allows no power-on ResetType (allows " + Join(*allowed) + ")"};
  return Reset(*system, *on);
}

Status RedfishPowerDriver::DoPowerOff() {
  auto system = FetchSystem();
  if (!system.ok()) return system.status();
  if (system->power_state == "Off") return Status::Ok();
  auto allowed = AllowedResetTypes(*system);
  if (!allowed.ok()) return allowed.status();
  auto off = ChooseRedfishOff(*allowed);
  if (!off) return {ErrorCode::kUnsupported, "Redfish " + target_.base_url + " allows no power-off ResetType (allows " + Join(*allowed) + ")"};
  return Reset(*system, *off);
}

Status RedfishPowerDriver::DoPowerCycle() {
  auto system = FetchSystem();
  if (!system.ok()) return system.status();
  auto allowed = AllowedResetTypes(*system);
  if (!allowed.ok()) return allowed.status();
  if (system->power_state == "Off" || system->power_state == "PoweringOff") {
    auto on = ChooseRedfishOn(*allowed);
    if (!on) return {ErrorCode::kUnsupported, "Redfish " + target_.base_url + " allows no power-on ResetType (allows " + Join(*allowed) + ")"};
    if (system->power_state == "PoweringOff")
      if (Status s = WaitForPowerState("Off"); !s.ok()) return s;
    return Reset(*system, *on);  // cycling an off machine means switching it on
  }
  const RedfishCyclePlan plan = ChooseRedfishCycle(*allowed);
  if (!plan.possible())
    return {ErrorCode::kUnsupported,
            "Redfish " + target_.base_url + " allows no way to power-cycle (allows " + Join(*allowed) + ")"};
  if (!plan.reset_type.empty()) return Reset(*system, plan.reset_type);
  if (Status s = Reset(*system, plan.off_type); !s.ok()) return s;
  if (Status s = WaitForPowerState("Off"); !s.ok()) return s;
  return Reset(*system, plan.on_type);
}

Status RedfishPowerDriver::DoSetNextBootNetwork(bool efi) {
  std::string etag;
  auto system = FetchSystem(&etag);
  if (!system.ok()) return system.status();
  if (!system->has_boot)
    return {ErrorCode::kUnsupported, "Redfish " + target_.base_url + " " + system_path_ + " has no Boot override"};
  if (!system->boot_targets_allowed.empty() &&
      std::find(system->boot_targets_allowed.begin(), system->boot_targets_allowed.end(), "Pxe") ==
          system->boot_targets_allowed.end())
    return {ErrorCode::kUnsupported, "Redfish " + target_.base_url + " does not offer Pxe as boot override (offers " +
                                         Join(system->boot_targets_allowed) + ")"};
  const bool with_mode = system->boot_mode.has_value();
  const std::string body = RedfishPxeOnceBody(efi, with_mode);
  spdlog::info("redfish {}: {} next boot Pxe once ({})", target_.base_url, system_path_, efi ? "UEFI" : "Legacy");
  for (int attempt = 0;; ++attempt) {
    std::vector<std::string> headers;
    if (!etag.empty()) headers.push_back("If-Match: " + etag);
    auto r = Call("PATCH", system_path_, body, headers);
    if (!r.ok()) return r.status();
    // 412: someone changed the resource since we read it; 428: the BMC wants
    // If-Match and we had no ETag. Both: read again, retry once.
    if ((r->status == 412 || r->status == 428) && attempt == 0) {
      auto again = FetchSystem(&etag);
      if (!again.ok()) return again.status();
      continue;
    }
    if (Status s = Check(*r, "PATCH Boot override"); !s.ok()) return s;
    break;
  }
  auto after = FetchSystem();
  if (!after.ok()) return after.status();
  const std::string want_mode = efi ? "UEFI" : "Legacy";
  if (after->boot_target != "Pxe" || after->boot_enabled != "Once" ||
      (with_mode && after->boot_mode.value_or("") != want_mode))
    return {ErrorCode::kInternal, "Redfish " + target_.base_url + " accepted the PXE boot override but reads back " +
                                      after->boot_target + "/" + after->boot_enabled + "/" +
                                      after->boot_mode.value_or("-")};
  return Status::Ok();
}

}  // namespace metalpxe
