#include "tests/e2e/installer/trustd.h"

#include <grpcpp/grpcpp.h>
#include <openssl/crypto.h>

#include <cstdio>
#include <thread>

#include "api/proto/security/security.grpc.pb.h"

namespace metalpxe::standin {
namespace {

class TrustdService final : public securityapi::SecurityService::Service {
 public:
  TrustdService(std::string ca_crt, std::string ca_key, std::string token)
      : ca_crt_(std::move(ca_crt)), ca_key_(std::move(ca_key)), token_(std::move(token)) {}

  grpc::Status Certificate(grpc::ServerContext* ctx, const securityapi::CertificateRequest* req,
                           securityapi::CertificateResponse* resp) override {
    // basic.TokenCredentials: compared as SHA-256 digests in constant time.
    const auto& md = ctx->client_metadata();
    auto it = md.find("token");
    if (it == md.end()) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing token");
    const std::string given(it->second.data(), it->second.size());
    if (given.size() != token_.size() || CRYPTO_memcmp(given.data(), token_.data(), token_.size()) != 0)
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid token");
    auto crt = SignApidCsr(ca_crt_, ca_key_, req->csr());
    if (!crt) {
      const bool bad_csr = crt.status().code() == ErrorCode::kInvalidArgument;
      return grpc::Status(bad_csr ? grpc::StatusCode::INVALID_ARGUMENT : grpc::StatusCode::INTERNAL,
                          crt.status().message());
    }
    std::printf("STANDIN-APID: trustd signed a certificate for %s\n", ctx->peer().c_str());
    std::fflush(stdout);
    resp->set_ca(ca_crt_);
    resp->set_crt(*crt);
    return grpc::Status::OK;
  }

 private:
  std::string ca_crt_, ca_key_, token_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeTrustdService(std::string ca_cert_pem, std::string ca_key_pem, std::string token) {
  return std::make_unique<TrustdService>(std::move(ca_cert_pem), std::move(ca_key_pem), std::move(token));
}

Result<IssuedPair> RequestApidCertificate(const std::string& host, const std::string& token,
                                          const std::string& ca_cert_pem, const std::vector<std::string>& ips,
                                          const std::string& hostname, std::chrono::seconds budget) {
  auto csr = MakeApidCsr(ips, hostname);
  if (!csr) return csr.status();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca_cert_pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(host);
  auto channel = grpc::CreateCustomChannel("ipv4:" + host + ":50001", grpc::SslCredentials(ssl), args);
  auto stub = securityapi::SecurityService::NewStub(channel);
  const auto deadline = std::chrono::steady_clock::now() + budget;
  std::string last = "no attempt";
  while (std::chrono::steady_clock::now() < deadline) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("token", token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    securityapi::CertificateRequest req;
    req.set_csr(csr->csr_pem);
    securityapi::CertificateResponse resp;
    const grpc::Status st = stub->Certificate(&ctx, req, &resp);
    if (st.ok()) return IssuedPair{resp.crt(), csr->key_pem};
    last = st.error_message();
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED || st.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
      break;  // will not get better
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return Status(ErrorCode::kUnavailable, "trustd at " + host + ":50001: " + last);
}

}  // namespace metalpxe::standin
