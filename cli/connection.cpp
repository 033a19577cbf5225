#include "cli/connection.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include "api/management/client_config.h"
#include "cli/rpc_failure.h"

namespace metalpxe::cli {
namespace {


// Can we open a TCP connection to host:port within `timeout`? Tells "nobody
// listens there" apart from "something listens but TLS failed", which gRPC
// reports alike as UNAVAILABLE.
bool TcpReachable(const std::string& endpoint, int timeout_ms) {
  auto colon = endpoint.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = endpoint.substr(0, colon), port = endpoint.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) return false;
  bool ok = false;
  for (addrinfo* a = res; a && !ok; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      ok = true;
    } else if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, timeout_ms) == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        ok = ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
      }
    }
    ::close(fd);
  }
  freeaddrinfo(res);
  return ok;
}

}  // namespace

std::unique_ptr<grpc::ClientContext> Session::UnaryContext(std::chrono::seconds timeout) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  return ctx;
}

std::string DefaultConfigPath() {
  if (const char* env = std::getenv("METALPXECONFIG"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) return std::string(xdg) + "/metalpxe/config";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.config/metalpxe/config";
}

std::unique_ptr<Session> OpenSession(const GlobalOptions& options) {
  auto session = std::make_unique<Session>();
  session->config_path = options.config_path.empty() ? DefaultConfigPath() : options.config_path;
  if (options.output == "json") session->format = OutputFormat::kJson;
  else if (options.output == "yaml") session->format = OutputFormat::kYaml;
  auto config = LoadClientConfig(session->config_path);
  if (!config.ok()) {
    std::cerr << "error: cannot use client config: " << config.status().message() << "\n";
    if (config.status().code() == ErrorCode::kNotFound) {
      std::cerr << "hint: copy the config metalpxed wrote to <stateDir>/pki/admin.metalpxeconfig to "
                << DefaultConfigPath() << " (mode 0600), or pass --config FILE\n";
    }
    return nullptr;
  }
  session->endpoint = options.endpoint.empty() ? config->endpoint : options.endpoint;
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = config->ca_pem;
  ssl.pem_cert_chain = config->cert_pem;
  ssl.pem_private_key = config->key_pem.Reveal();
  session->channel = grpc::CreateChannel(session->endpoint, grpc::SslCredentials(ssl));
  session->stub = metalpxe::v1::Management::NewStub(session->channel);
  return session;
}

namespace {

// gRPC's connection errors end with the cause after the address
// ("...: ipv4:10.0.0.1:50100: Socket closed"): keep the cause.
std::string LastCause(const std::string& detail) {
  const auto pos = detail.rfind(": ");
  return pos == std::string::npos ? detail : detail.substr(pos + 2);
}

const char* kUseAdminConfig = "use the client config metalpxed wrote to <stateDir>/pki/admin.metalpxeconfig";

// A failure to connect, worded for the user; false when the status came from
// the server (then the switch in ReportRpcError words it).
bool ReportConnectionFailure(const Session& session, const grpc::Status& status, const std::string& machine) {
  const bool ready = session.channel && session.channel->GetState(false) == GRPC_CHANNEL_READY;
  const std::string& ep = session.endpoint;
  const std::string detail = status.error_message();
  switch (ClassifyRpcFailure(status.error_code(), detail, ready)) {
    case RpcFailure::kAnsweredByServer:
      return false;
    case RpcFailure::kDeadlineWhileConnected:
      std::cerr << "error: metalpxed at " << ep << " did not answer before the deadline"
                << (machine.empty() ? "" : " (the action on " + machine + " may still complete: `metalpxectl events " +
                                               machine + "` shows it)")
                << "\n";
      return true;
    case RpcFailure::kConnectionRefused:
      std::cerr << "error: cannot reach metalpxed at " << ep
                << ": is it running, and is apiListen reachable from here? (connection refused: nothing listens "
                   "on that port)\n";
      return true;
    case RpcFailure::kNoRoute:
      std::cerr << "error: cannot reach metalpxed at " << ep << ": no route to that address (" << LastCause(detail)
                << "): check the endpoint and this host's network\n";
      return true;
    case RpcFailure::kNameResolution:
      std::cerr << "error: cannot resolve the endpoint " << ep << ": " << detail << "\n";
      return true;
    case RpcFailure::kNoAnswer:
      if (TcpReachable(ep, 2000)) {
        std::cerr << "error: something at " << ep << " accepted the connection but did not complete the TLS "
                  << "handshake in time: is that metalpxed's apiListen?\n";
      } else {
        std::cerr << "error: no answer from " << ep << ": the host is down, or packets to it are dropped (a "
                  << "firewall?)\n";
      }
      return true;
    case RpcFailure::kServerCertificateRejected:
      std::cerr << "error: we refused the certificate of the server at " << ep << ": the CA in "
                << session.config_path << " did not sign it (is this the right appliance?); " << kUseAdminConfig
                << "\n";
      return true;
    case RpcFailure::kClientCertificateRejected:
      std::cerr << "error: the server at " << ep << " refused this client's certificate (TLS handshake ended: "
                << LastCause(detail) << "): " << kUseAdminConfig << " (now using " << session.config_path << ")\n";
      return true;
    case RpcFailure::kOtherConnectionFailure:
      std::cerr << "error: cannot connect to metalpxed at " << ep << ": " << detail << "\n";
      return true;
  }
  return false;
}

}  // namespace

int ReportRpcError(const Session& session, const grpc::Status& status, const std::string& machine) {
  const std::string detail = status.error_message();
  if (ReportConnectionFailure(session, status, machine)) return kExitServerError;
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      // The server's own answer: for a power action, usually the BMC.
      std::cerr << "error: " << (machine.empty() ? "" : machine + ": ") << detail << "\n";
      break;
    case grpc::StatusCode::NOT_FOUND:
      if (!machine.empty()) {
        std::cerr << "error: machine " << machine << " not found: `metalpxectl machines` lists them\n";
      } else {
        std::cerr << "error: not found: " << detail << "\n";
      }
      break;
    case grpc::StatusCode::ALREADY_EXISTS:
      std::cerr << "error: " << detail << " (already in the inventory: `metalpxectl get` shows it)\n";
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
      std::cerr << "error: invalid request: " << detail << "\n";
      break;
    case grpc::StatusCode::FAILED_PRECONDITION:
      std::cerr << "error: cannot do that now: " << detail << "\n";
      break;
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      std::cerr << "error: permission denied: " << detail << "\n";
      break;
    default:
      std::cerr << "error: " << detail << " (" << static_cast<int>(status.error_code()) << ")\n";
      break;
  }
  return kExitServerError;
}

}  // namespace metalpxe::cli
