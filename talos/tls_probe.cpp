#include "talos/tls_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <memory>

#include "core/unique_fd.h"

namespace metalpxe::talos {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX, SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Deleter<SSL, SSL_free>>;

// A TCP connection within the deadline, with send/receive timeouts set.
UniqueFd Connect(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return UniqueFd();
  std::unique_ptr<addrinfo, Deleter<addrinfo, freeaddrinfo>> list(res);
  UniqueFd fd(socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return UniqueFd();
  if (connect(fd.get(), res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS) return UniqueFd();
  pollfd p{fd.get(), POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof err;
  if (poll(&p, 1, static_cast<int>(timeout.count())) != 1 ||
      getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
    return UniqueFd();
  fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

// Our side of the handshake as MachineClient::Connect sets it up for gRPC.
bool LoadCredentials(SSL_CTX* ctx, const std::string& host, const TalosCredentials& creds) {
  std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>> ca(BIO_new_mem_buf(creds.ca_pem.data(), -1));
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  while (X509* cert = PEM_read_bio_X509(ca.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, cert);
    X509_free(cert);
  }
  ERR_clear_error();  // the end of the bundle reads as an error
  std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>> crt(BIO_new_mem_buf(creds.crt_pem.data(), -1));
  std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>> key(BIO_new_mem_buf(creds.key_pem.Reveal().data(), -1));
  std::unique_ptr<X509, Deleter<X509, X509_free>> cert(PEM_read_bio_X509(crt.get(), nullptr, nullptr, nullptr));
  std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>> pkey(
      PEM_read_bio_PrivateKey(key.get(), nullptr, nullptr, nullptr));
  if (!cert || !pkey || SSL_CTX_use_certificate(ctx, cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, pkey.get()) != 1)
    return false;
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
  if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  return true;
}

std::string LastSslError() {
  const unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return "the connection was closed";
  const char* reason = ERR_reason_error_string(e);
  return reason ? reason : "TLS error";
}

}  // namespace

TlsProbe ProbeTls(const std::string& host, std::uint16_t port, const TalosCredentials* creds,
                  std::chrono::milliseconds timeout) {
  ERR_clear_error();
  UniqueFd fd = Connect(host, port, timeout);
  if (!fd.valid()) return {TlsProbe::Outcome::kNoConnection, "no TCP connection"};
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return {TlsProbe::Outcome::kOther, "SSL_CTX_new failed"};
  if (creds && !LoadCredentials(ctx.get(), host, *creds)) return {TlsProbe::Outcome::kOther, "bad credentials"};
  static const unsigned char kAlpn[] = {2, 'h', '2'};  // gRPC speaks HTTP/2
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof kAlpn);
  SslPtr ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd.get());
  if (SSL_connect(ssl.get()) != 1) {
    const long verify = SSL_get_verify_result(ssl.get());
    if (creds && verify != X509_V_OK)
      return {TlsProbe::Outcome::kServerUntrusted, X509_verify_cert_error_string(verify)};
    return {TlsProbe::Outcome::kClientRefused, LastSslError()};
  }
  // TLS 1.3 sends the verdict on our certificate after the handshake: a
  // node that accepts us speaks HTTP/2 (its SETTINGS frame), one that does
  // not sends an alert.
  char byte = 0;
  const int n = SSL_read(ssl.get(), &byte, 1);
  if (n > 0) return {TlsProbe::Outcome::kAccepted, ""};
  const int err = SSL_get_error(ssl.get(), n);
  if (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))
    return {TlsProbe::Outcome::kAccepted, ""};  // silent but not refusing: not a TLS problem
  return {TlsProbe::Outcome::kClientRefused, LastSslError()};
}

}  // namespace metalpxe::talos
