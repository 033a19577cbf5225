#include "tests/ipmi/http_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/subprocess.h"

namespace metalpxe::testing {
namespace {

struct Pending {
  FixtureRequest request;
};

MHD_Result CollectHeader(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto* r = static_cast<FixtureRequest*>(cls);
  std::string k(key);
  std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return std::tolower(c); });
  r->headers[k] = value ? value : "";
  return MHD_YES;
}

MHD_Result CollectArg(void* cls, MHD_ValueKind, const char* key, const char* value) {
  static_cast<FixtureRequest*>(cls)->args[key] = value ? value : "";
  return MHD_YES;
}

std::string UrlDecode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size()) {
      out += char(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

MHD_Result Access(void* cls, MHD_Connection* conn, const char* url, const char* method, const char*,
                  const char* upload_data, size_t* upload_size, void** con_cls) {
  auto* self = static_cast<HttpFixture*>(cls);
  if (*con_cls == nullptr) {
    auto* p = new Pending;
    p->request.method = method;
    p->request.path = url;
    *con_cls = p;
    return MHD_YES;
  }
  auto* p = static_cast<Pending*>(*con_cls);
  if (*upload_size != 0) {
    p->request.body.append(upload_data, *upload_size);
    *upload_size = 0;
    return MHD_YES;
  }
  FixtureRequest& req = p->request;
  MHD_get_connection_values(conn, MHD_HEADER_KIND, CollectHeader, &req);
  MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, CollectArg, &req);
  if (req.headers["content-type"].rfind("application/x-www-form-urlencoded", 0) == 0) {
    std::stringstream ss(req.body);
    std::string pair;
    while (std::getline(ss, pair, '&')) {
      const auto eq = pair.find('=');
      if (eq != std::string::npos) req.args[UrlDecode(pair.substr(0, eq))] = UrlDecode(pair.substr(eq + 1));
    }
  }
  char* pass = nullptr;
  char* user = MHD_basic_auth_get_username_password(conn, &pass);
  if (user) {
    req.basic_user = user;
    req.basic_password = pass ? pass : "";
    MHD_free(user);
    if (pass) MHD_free(pass);
  }
  FixtureResponse out = self->Dispatch(req);
  MHD_Response* resp = MHD_create_response_from_buffer(out.body.size(), out.body.data(), MHD_RESPMEM_MUST_COPY);
  for (const auto& [k, v] : out.headers) MHD_add_response_header(resp, k.c_str(), v.c_str());
  if (!out.body.empty() && !out.headers.count("Content-Type"))
    MHD_add_response_header(resp, "Content-Type", "application/json");
  const MHD_Result r = MHD_queue_response(conn, out.status, resp);
  MHD_destroy_response(resp);
  return r;
}

void Completed(void*, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
  delete static_cast<Pending*>(*con_cls);
  *con_cls = nullptr;
}

}  // namespace

HttpFixture::HttpFixture(Handler handler, const std::string& tls_cert_pem, const std::string& tls_key_pem)
    : handler_(std::move(handler)), cert_(tls_cert_pem), key_(tls_key_pem) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
  if (!cert_.empty()) flags |= MHD_USE_TLS;
  if (cert_.empty()) {
    daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, &Access, this, MHD_OPTION_SOCK_ADDR, &addr,
                               MHD_OPTION_NOTIFY_COMPLETED, &Completed, nullptr, MHD_OPTION_END);
  } else {
    daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, &Access, this, MHD_OPTION_SOCK_ADDR, &addr,
                               MHD_OPTION_NOTIFY_COMPLETED, &Completed, nullptr, MHD_OPTION_HTTPS_MEM_CERT,
                               cert_.c_str(), MHD_OPTION_HTTPS_MEM_KEY, key_.c_str(), MHD_OPTION_END);
  }
  if (!daemon_) throw std::runtime_error("cannot start the HTTP fixture");
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  port_ = info ? info->port : 0;
}

HttpFixture::~HttpFixture() {
  if (daemon_) MHD_stop_daemon(daemon_);
}

std::string HttpFixture::url() const {
  return std::string(cert_.empty() ? "http" : "https") + "://127.0.0.1:" + std::to_string(port_);
}

std::vector<std::string> HttpFixture::Requests() const {
  std::lock_guard lock(mu_);
  return log_;
}

FixtureResponse HttpFixture::Dispatch(const FixtureRequest& r) {
  {
    std::lock_guard lock(mu_);
    log_.push_back(r.method + " " + r.path);
  }
  return handler_(r);
}

std::pair<std::string, std::string> MakeSelfSignedCert(const std::string& dir) {
  auto r = RunCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                       "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", dir + "/key.pem",
                       "-out", dir + "/cert.pem"},
                      std::chrono::seconds(60));
  if (r.exit_code != 0) throw std::runtime_error("openssl req failed: " + r.output);
  auto read = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  return {read(dir + "/cert.pem"), read(dir + "/key.pem")};
}

}  // namespace metalpxe::testing
