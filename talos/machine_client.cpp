#include "talos/machine_client.h"

#include <grpcpp/grpcpp.h>
#include <openssl/crypto.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "api/proto/events/events.pb.h"
#include "api/proto/machine/machine_api.grpc.pb.h"
#include "api/talos_event_decode.h"
#include "core/net_types.h"
#include "talos/kubeconfig_archive.h"
#include "talos/tls_probe.h"

namespace metalpxe::talos {
namespace {

std::chrono::system_clock::time_point DeadlineAfter(std::chrono::milliseconds timeout) {
  return std::chrono::system_clock::now() + timeout;
}

// "ipv4:" needs no resolver: an address literal connects as given.
std::string Target(const std::string& host, std::uint16_t port) {
  const std::string hp = host + ":" + std::to_string(port);
  return Ipv4Address::Parse(host) ? "ipv4:" + hp : "dns:///" + hp;
}

grpc::ChannelArguments ChannelArgs(const std::string& host) {
  grpc::ChannelArguments args;
  // The node's certificate must name the address we dialled (Talos puts the
  // node's addresses in its apid certificate), whatever the target syntax.
  args.SetSslTargetNameOverride(host);
  // One connection per node, ours alone: no sharing with other channels to
  // the same address that may carry other credentials.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // Fail a call at once when the node is down instead of waiting out its
  // deadline in gRPC's reconnect backoff; callers retry on their own schedule.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  return args;
}

bool Contains(const std::string& s, std::string_view what) { return s.find(what) != std::string::npos; }

CallError Protocol(const std::string& node, std::string_view call, const std::string& what) {
  return CallError{CallFailure::kProtocol, std::string(call) + " on " + node + ": " + what};
}

}  // namespace

void CancelToken::Cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  if (ctx_) ctx_->TryCancel();
}

bool CancelToken::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

void CancelToken::Attach(grpc::ClientContext* ctx) {
  std::lock_guard lock(mu_);
  ctx_ = ctx;
  if (cancelled_) ctx_->TryCancel();
}

void CancelToken::Detach() {
  std::lock_guard lock(mu_);
  ctx_ = nullptr;
}

MachineClient::MachineClient(std::shared_ptr<grpc::Channel> channel, std::string host, std::uint16_t port,
                             std::optional<TalosCredentials> creds)
    : channel_(std::move(channel)),
      node_(host + ":" + std::to_string(port)),
      host_(std::move(host)),
      port_(port),
      creds_(std::move(creds)) {}

CallError MachineClient::Fail(const grpc::Status& st, std::string_view call) const {
  CallError err = ClassifyGrpcStatus(static_cast<int>(st.error_code()), st.error_message(), node_, call);
  const std::string& msg = st.error_message();
  const bool vague_tls = st.error_code() == grpc::StatusCode::UNAVAILABLE &&
                         (err.failure == CallFailure::kTlsRejected || Contains(msg, "Socket closed") ||
                          Contains(msg, "Connection reset"));
  if (!vague_tls) return err;
  // gRPC's words do not say who refused whom: ask OpenSSL once, directly.
  const TlsProbe probe = ProbeTls(host_, port_, creds_ ? &*creds_ : nullptr, std::chrono::seconds(3));
  const std::string where = std::string(call) + " on " + node_ + ": TLS handshake failed: ";
  switch (probe.outcome) {
    case TlsProbe::Outcome::kServerUntrusted:
      return {CallFailure::kTlsRejected, where + "the node's certificate is not signed by the cluster's CA or does "
                                                 "not name " + host_ + " (" + probe.detail + ")"};
    case TlsProbe::Outcome::kClientRefused:
      return {CallFailure::kTlsRejected,
              where + (creds_ ? "the node refused our client certificate (" + probe.detail +
                                    "): it trusts another CA, or the certificate expired"
                              : "the node wants a client certificate (" + probe.detail +
                                    "): it is not in maintenance mode")};
    case TlsProbe::Outcome::kNoConnection:
      return {CallFailure::kUnreachable, std::string(call) + " on " + node_ + ": unreachable: " + msg};
    default: return err;
  }
}

Result<MachineClient> MachineClient::Connect(const std::string& host, std::uint16_t port,
                                             const TalosCredentials& creds) {
  if (creds.ca_pem.empty() || creds.crt_pem.empty() || creds.key_pem.empty())
    return Status(ErrorCode::kInvalidArgument, "talosconfig context has no client credentials");
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = creds.ca_pem;
  ssl.pem_cert_chain = creds.crt_pem;
  ssl.pem_private_key = creds.key_pem.Reveal();  // PKCS#8: ParseTalosconfig converted Go's Ed25519 label
  auto channel = grpc::CreateCustomChannel(Target(host, port), grpc::SslCredentials(ssl), ChannelArgs(host));
  OPENSSL_cleanse(ssl.pem_private_key.data(), ssl.pem_private_key.size());
  if (!channel) return Status(ErrorCode::kInternal, "cannot create a gRPC channel to " + host);
  return MachineClient(std::move(channel), host, port, creds);
}

Result<MachineClient> MachineClient::ConnectMaintenance(const std::string& host, std::uint16_t port) {
  // talosctl --insecure: TLS, no client certificate, the node's self-made
  // certificate not verified (it chains to nothing we know).
  grpc::experimental::TlsChannelCredentialsOptions tls;
  tls.set_verify_server_certs(false);
  tls.set_check_call_host(false);
  tls.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  auto creds = grpc::experimental::TlsCredentials(tls);
  if (!creds) return Status(ErrorCode::kInternal, "cannot create TLS credentials for maintenance mode");
  auto channel = grpc::CreateCustomChannel(Target(host, port), creds, ChannelArgs(host));
  if (!channel) return Status(ErrorCode::kInternal, "cannot create a gRPC channel to " + host);
  return MachineClient(std::move(channel), host, port, std::nullopt);
}

CallResult<NodeVersion> MachineClient::Version(std::chrono::milliseconds timeout) const {
  auto stub = machine::MachineService::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(timeout));
  google::protobuf::Empty req;
  machine::VersionResponse resp;
  const grpc::Status st = stub->Version(&ctx, req, &resp);
  if (!st.ok()) return Fail(st, "Version");
  if (resp.messages_size() == 0) return Protocol(node_, "Version", "the answer has no version");
  const machine::Version& v = resp.messages(0);
  NodeVersion out;
  out.tag = v.version().tag();
  out.sha = v.version().sha();
  out.arch = v.version().arch();
  out.platform = v.platform().name();
  out.platform_mode = v.platform().mode();
  return out;
}

CallResult<BootstrapOutcome> MachineClient::Bootstrap(std::chrono::milliseconds timeout) const {
  auto stub = machine::MachineService::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(timeout));
  machine::BootstrapRequest req;
  machine::BootstrapResponse resp;
  const grpc::Status st = stub->Bootstrap(&ctx, req, &resp);
  if (st.ok()) return BootstrapOutcome::kBootstrapped;
  CallError err = Fail(st, "Bootstrap");
  // Talos answers AlreadyExists only for this: etcd exists, the cluster was
  // bootstrapped before (by us or by hand). Done, not broken.
  if (err.failure == CallFailure::kAlreadyExists) return BootstrapOutcome::kAlreadyBootstrapped;
  return err;
}

CallResult<Secret> MachineClient::Kubeconfig(std::chrono::milliseconds timeout) const {
  auto stub = machine::MachineService::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(timeout));
  google::protobuf::Empty req;
  auto reader = stub->Kubeconfig(&ctx, req);
  std::string archive;
  common::Data chunk;
  bool too_large = false;
  while (reader->Read(&chunk)) {
    if (archive.size() + chunk.bytes().size() > kMaxKubeconfigArchive) {
      too_large = true;
      ctx.TryCancel();
      break;
    }
    archive += chunk.bytes();
  }
  const grpc::Status st = reader->Finish();
  if (too_large)
    return Protocol(node_, "Kubeconfig", "the archive is larger than " + std::to_string(kMaxKubeconfigArchive) +
                                             " bytes");
  if (!st.ok()) {
    OPENSSL_cleanse(archive.data(), archive.size());
    return Fail(st, "Kubeconfig");
  }
  auto kubeconfig = ExtractKubeconfig(archive);
  OPENSSL_cleanse(archive.data(), archive.size());
  if (!kubeconfig) return Protocol(node_, "Kubeconfig", kubeconfig.status().message());
  return std::move(*kubeconfig);
}

CallResult<std::vector<EtcdMember>> MachineClient::EtcdMemberList(std::chrono::milliseconds timeout) const {
  auto stub = machine::MachineService::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(timeout));
  machine::EtcdMemberListRequest req;
  machine::EtcdMemberListResponse resp;
  const grpc::Status st = stub->EtcdMemberList(&ctx, req, &resp);
  if (!st.ok()) return Fail(st, "EtcdMemberList");
  if (resp.messages_size() == 0) return Protocol(node_, "EtcdMemberList", "the answer has no member list");
  std::vector<EtcdMember> out;
  for (const auto& m : resp.messages(0).members()) {
    EtcdMember e;
    e.id = m.id();
    e.hostname = m.hostname();
    e.peer_urls.assign(m.peer_urls().begin(), m.peer_urls().end());
    e.client_urls.assign(m.client_urls().begin(), m.client_urls().end());
    e.is_learner = m.is_learner();
    out.push_back(std::move(e));
  }
  return out;
}

CallResult<ApplyOutcome> MachineClient::ApplyConfiguration(const Secret& config, ApplyMode mode,
                                                           std::chrono::milliseconds timeout) const {
  auto stub = machine::MachineService::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(timeout));
  machine::ApplyConfigurationRequest req;
  req.set_data(config.Reveal());
  req.set_mode(static_cast<machine::ApplyConfigurationRequest::Mode>(mode));
  machine::ApplyConfigurationResponse resp;
  const grpc::Status st = stub->ApplyConfiguration(&ctx, req, &resp);
  OPENSSL_cleanse(req.mutable_data()->data(), req.data().size());
  if (!st.ok()) return Fail(st, "ApplyConfiguration");
  if (resp.messages_size() == 0) return Protocol(node_, "ApplyConfiguration", "the answer has no result");
  const machine::ApplyConfiguration& a = resp.messages(0);
  ApplyOutcome out;
  out.mode = machine::ApplyConfigurationRequest::Mode_Name(a.mode());
  out.mode_details = a.mode_details();
  out.warnings.assign(a.warnings().begin(), a.warnings().end());
  return out;
}

CallResult<std::string> MachineClient::Upgrade(const std::string& installer_image, bool preserve,
                                               std::chrono::milliseconds timeout) const {
  auto stub = machine::MachineService::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(timeout));
  machine::UpgradeRequest req;
  req.set_image(installer_image);
  req.set_preserve(preserve);
  machine::UpgradeResponse resp;
  const grpc::Status st = stub->Upgrade(&ctx, req, &resp);
  if (!st.ok()) return Fail(st, "Upgrade");
  if (resp.messages_size() == 0) return Protocol(node_, "Upgrade", "the answer has no acknowledgement");
  return resp.messages(0).ack();
}

CallResult<int> MachineClient::Events(const EventsOptions& options,
                                      const std::function<bool(const TalosEvent&)>& on_event,
                                      std::chrono::milliseconds timeout, CancelToken* cancel) const {
  auto stub = machine::MachineService::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(timeout));
  machine::EventsRequest req;
  req.set_tail_events(options.tail_events);
  req.set_tail_seconds(options.tail_seconds);
  req.set_tail_id(options.tail_id);
  req.set_with_actor_id(options.actor_id);
  if (cancel) cancel->Attach(&ctx);
  auto reader = stub->Events(&ctx, req);
  const Ipv4Address peer = Ipv4Address::Parse(host_).value_or(Ipv4Address());
  int delivered = 0;
  bool started = false, stopped_by_us = false;
  machine::Event event;
  while (reader->Read(&event)) {
    started = true;
    if (!event.has_data() || event.data().type_url().empty()) continue;  // the "hello" event
    events::EventRequest as_sink;  // same envelope as the event sink's: one decoder for both
    *as_sink.mutable_data() = event.data();
    as_sink.set_id(event.id());
    as_sink.set_actor_id(event.actor_id());
    auto decoded = DecodeTalosEvent(as_sink, peer);
    if (!decoded) continue;  // a payload that does not parse is skipped, as the sink does
    ++delivered;
    if (!on_event(*decoded)) {
      stopped_by_us = true;
      ctx.TryCancel();
      break;
    }
  }
  const grpc::Status st = reader->Finish();
  if (cancel) cancel->Detach();
  const bool ended_by_us = stopped_by_us || (cancel && cancel->cancelled()) ||
                           (started && st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  if (!st.ok() && !ended_by_us) return Fail(st, "Events");
  return delivered;
}

}  // namespace metalpxe::talos
