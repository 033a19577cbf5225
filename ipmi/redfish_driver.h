#pragma once
// bmc.type redfish: DMTF Redfish over HTTPS (libcurl + nlohmann-json).
// Finds the ComputerSystem (configured in the address, or the first member
// of /redfish/v1/Systems), resets it with a ResetType the BMC allows, and
// sets a one-time PXE boot override via PATCH (If-Match with the ETag when
// the BMC gives one; a 412 refetches and retries once), then reads it back.
// Auth: a Redfish session (X-Auth-Token) when the service has a session
// service, HTTP basic otherwise. Not thread-safe: one call at a time.
#include <optional>
#include <string>
#include <vector>

#include "core/secret.h"
#include "ipmi/http_client.h"
#include "ipmi/power_driver.h"
#include "ipmi/redfish_codec.h"

namespace metalpxe {

struct RedfishTarget {
  std::string base_url;     // "https://host[:port]"
  std::string system_path;  // "/redfish/v1/Systems/<id>", or empty = first member
  std::string username;
  Secret password;
  bool insecure_tls = false;
};

// bmc.address forms: "host[:port]", "https://host[:port]",
// "https://host/redfish/v1/Systems/<id>" (picks that system). No scheme means https.
Result<RedfishTarget> ParseRedfishAddress(std::string_view address);

class RedfishPowerDriver final : public PowerDriver {
 public:
  RedfishPowerDriver(RedfishTarget target, PowerContext context);
  ~RedfishPowerDriver() override;  // ends the Redfish session, if one was opened

  std::string_view Kind() const override { return "redfish"; }
  PowerCapabilities Capabilities() const override;
  Result<PowerState> GetPowerState() override;
  Status PowerOn() override;
  Status PowerOff() override;
  Status PowerCycle() override;
  Status SetNextBootNetwork(bool efi) override;

 private:
  Result<HttpResponse> Call(const std::string& method, const std::string& path, const std::string& body = "",
                            const std::vector<std::string>& headers = {});
  Status Login();
  Status Check(const HttpResponse& r, const std::string& what) const;
  Result<std::string> SystemPath();
  // The system and the ETag to send back (header, else @odata.etag).
  Result<RedfishSystem> FetchSystem(std::string* etag = nullptr);
  Result<std::vector<std::string>> AllowedResetTypes(const RedfishSystem& system);
  Status Reset(const RedfishSystem& system, const std::string& type);
  Status WaitForPowerState(const std::string& wanted);

  Status DoPowerOn();
  Status DoPowerOff();
  Status DoPowerCycle();
  Status DoSetNextBootNetwork(bool efi);

  RedfishTarget target_;
  PowerContext context_;
  HttpClient http_;
  bool logged_in_ = false;
  bool basic_ = false;
  std::string token_;        // X-Auth-Token (a secret: never logged)
  std::string session_uri_;  // to DELETE on logout
  std::string system_path_;  // resolved once
};

}  // namespace metalpxe
