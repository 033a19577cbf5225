#pragma once
// A small HTTP(S) server for test fixtures (Redfish BMC, Hetzner Robot,
// boot assets) on libmicrohttpd: one handler function sees each complete
// request and returns the response. Listens on 127.0.0.1 in the calling
// thread's network namespace, on a free port the kernel picks.
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

struct MHD_Daemon;

namespace metalpxe::testing {

struct FixtureRequest {
  std::string method;
  std::string path;                            // without query
  std::map<std::string, std::string> headers;  // lower-case names
  std::map<std::string, std::string> args;     // query and form fields
  std::string body;
  std::string basic_user, basic_password;      // decoded Authorization: Basic
};

struct FixtureResponse {
  int status = 200;
  std::string body;
  std::map<std::string, std::string> headers;
};

class HttpFixture {
 public:
  using Handler = std::function<FixtureResponse(const FixtureRequest&)>;
  // tls_cert_pem/tls_key_pem non-empty: HTTPS.
  explicit HttpFixture(Handler handler, const std::string& tls_cert_pem = "", const std::string& tls_key_pem = "");
  ~HttpFixture();
  HttpFixture(const HttpFixture&) = delete;
  HttpFixture& operator=(const HttpFixture&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url() const;  // http(s)://127.0.0.1:port

  // Every request seen, as "METHOD /path".
  std::vector<std::string> Requests() const;

  // internals used by the C callback
  FixtureResponse Dispatch(const FixtureRequest& r);

 private:
  Handler handler_;
  std::string cert_, key_;
  MHD_Daemon* daemon_ = nullptr;
  std::uint16_t port_ = 0;
  mutable std::mutex mu_;
  std::vector<std::string> log_;
};

// A self-signed certificate for 127.0.0.1 (openssl CLI): {cert_pem, key_pem}.
std::pair<std::string, std::string> MakeSelfSignedCert(const std::string& dir);

}  // namespace metalpxe::testing
