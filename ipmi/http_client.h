#pragma once
// A small blocking HTTPS client over libcurl for the BMC drivers (Redfish,
// Hetzner Robot). Transport failures are classified for power errors:
// connection/timeout problems -> kUnavailable, an untrusted TLS certificate
// -> kPermissionDenied (the peer failed to prove who it is). HTTP status
// codes are returned as they are; each driver maps them. Credentials go to
// libcurl only, never into messages.
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/secret.h"

namespace metalpxe {

struct HttpClientOptions {
  std::chrono::milliseconds timeout{10'000};
  bool verify_tls = true;
  std::string ca_file;  // extra trust anchor; empty = system store
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  std::string basic_user;            // basic auth when non-empty
  const Secret* basic_password = nullptr;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names; last one wins

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpResponse> Perform(const HttpRequest& request);

 private:
  HttpClientOptions options_;
  void* curl_;  // CURL*, reused so connections and TLS sessions are kept
};

// application/x-www-form-urlencoded body from name/value pairs.
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace metalpxe
