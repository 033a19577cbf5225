#include "tests/e2e/installer/standin_apid.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <regex>
#include <random>
#include <set>
#include <thread>

#include "api/proto/machine/machine_api.grpc.pb.h"
#include "api/proto/machine/machine_events.pb.h"
#include "tests/e2e/installer/admin_kubeconfig.h"
#include "tests/e2e/installer/standin_pki.h"
#include "tests/e2e/installer/trustd.h"

namespace metalpxe::standin {
namespace {

using grpc::ServerContext;
using grpc::Status;
using grpc::StatusCode;

void Log(const std::string& line) {
  std::printf("STANDIN-APID: %s\n", line.c_str());
  std::fflush(stdout);
}

// Talos's authz table (internal/app/machined/pkg/system/services/machined.go).
const std::map<std::string, std::set<std::string>>& AllowedRoles() {
  static const std::map<std::string, std::set<std::string>> table = {
      {"ApplyConfiguration", {"os:admin", "os:reader"}},  // reader: maintenance only, checked in the handler
      {"Bootstrap", {"os:admin"}},
      {"EtcdMemberList", {"os:admin", "os:operator", "os:reader", "os:etcd:backup"}},
      {"Events", {"os:admin", "os:operator", "os:reader"}},
      {"Kubeconfig", {"os:admin"}},
      {"Upgrade", {"os:admin"}},
      {"Version", {"os:admin", "os:operator", "os:reader"}},
  };
  return table;
}

// An xid-shaped event id (20 characters of base32hex), as Talos's.
std::string NewEventId() {
  static std::mt19937_64 rng{std::random_device{}()};
  static const char kAlphabet[] = "0123456789abcdefghijklmnopqrstuv";
  std::string id(20, '0');
  for (char& c : id) c = kAlphabet[rng() % 32];
  return id;
}

}  // namespace

std::string EndpointHost(const std::string& endpoint) {
  constexpr std::string_view kScheme = "https://";
  if (!endpoint.starts_with(kScheme)) return "";
  std::string host = endpoint.substr(kScheme.size());
  host = host.substr(0, host.find_first_of(":/"));
  return host.find_first_not_of("0123456789.") == std::string::npos ? host : "";
}

std::optional<std::string> VersionOfInstallerImage(const std::string& image) {
  // The installer images that exist: Sidero's (ghcr.io/siderolabs/installer)
  // and Image Factory's, per schematic (<factory host>/installer/<sha256 id>,
  // and its secureboot and metal-installer variants), tagged with a Talos
  // release (vMAJOR.MINOR.PATCH, optionally -alpha.N/-beta.N/-rc.N). Talos
  // pulls the reference before it answers; anything else is not found.
  static const std::regex kTag(R"(v(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})(-(alpha|beta|rc)\.(0|[1-9][0-9]{0,5}))?)");
  static const std::regex kFactory(
      R"([a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?/(installer|installer-secureboot|metal-installer|metal-installer-secureboot)/[0-9a-f]{64})");
  const auto colon = image.rfind(':');
  if (colon == std::string::npos || image.find('/') == std::string::npos || colon < image.rfind('/')) return std::nullopt;
  const std::string repo = image.substr(0, colon), tag = image.substr(colon + 1);
  if (!std::regex_match(tag, kTag)) return std::nullopt;
  if (repo != "ghcr.io/siderolabs/installer" && !std::regex_match(repo, kFactory)) return std::nullopt;
  return tag;
}

struct StandinApid::Impl {
  ApidSettings settings;
  bool maintenance = false;
  MachineConfigFacts facts;
  std::string server_cert, server_key;

  std::mutex mu;
  std::condition_variable cv;
  ApidState state;
  int bootstrap_calls = 0;
  bool stop = false, reboot = false;
  std::optional<std::string> applied;
  std::deque<machine::Event> events;  // bounded history for tails

  bool controlplane() const { return facts.role == "controlplane" || facts.role == "init"; }
  // Talos answers with the version it runs until the upgrade's reboot, though
  // the new one is already installed (and persisted here) when it acks.
  std::optional<std::string> running_until_reboot;
  std::string version() const {
    if (running_until_reboot) return *running_until_reboot;
    return state.version.empty() ? settings.talos_version : state.version;
  }

  template <typename M>
  void Publish(const M& payload) {
    machine::Event e;
    e.mutable_data()->set_type_url("talos/runtime/" + payload.GetDescriptor()->full_name());
    payload.SerializeToString(e.mutable_data()->mutable_value());
    e.set_id(NewEventId());
    std::lock_guard lock(mu);
    events.push_back(std::move(e));
    if (events.size() > 1000) events.pop_front();
    cv.notify_all();
  }
  void PublishStage(machine::MachineStatusEvent::MachineStage stage, bool ready) {
    machine::MachineStatusEvent e;
    e.set_stage(stage);
    e.mutable_status()->set_ready(ready);
    Publish(e);
  }
  void PublishSequence(const std::string& name, machine::SequenceEvent::Action action) {
    machine::SequenceEvent e;
    e.set_sequence(name);
    e.set_action(action);
    Publish(e);
  }

  void Persist() {
    if (auto st = SaveApidState(settings.state_path, settings.state_offset, state); !st.ok())
      Log("FAILED saving state: " + st.message());
  }

  // The caller's Talos roles: os:reader for everyone in maintenance mode,
  // else its verified certificate's Organization values.
  std::set<std::string> RolesOf(ServerContext* ctx) const {
    if (maintenance) return {"os:reader"};
    std::set<std::string> roles;
    auto auth = ctx->auth_context();
    if (!auth) return roles;
    for (const auto& pem : auth->FindPropertyValues("x509_pem_cert"))
      for (auto& o : OrganizationsOf(std::string(pem.data(), pem.size()))) roles.insert(o);
    return roles;
  }

  Status Authorize(ServerContext* ctx, const std::string& call) const {
    const auto& allowed = AllowedRoles().at(call);
    for (const auto& role : RolesOf(ctx))
      if (allowed.count(role)) return Status::OK;
    return Status(StatusCode::PERMISSION_DENIED, "not authorized");
  }
};

namespace {

class MachineServiceImpl final : public machine::MachineService::Service {
 public:
  explicit MachineServiceImpl(StandinApid::Impl* impl) : d_(impl) {}

  Status Version(ServerContext* ctx, const google::protobuf::Empty*, machine::VersionResponse* resp) override {
    if (Status st = d_->Authorize(ctx, "Version"); !st.ok()) return st;
    std::lock_guard lock(d_->mu);
    machine::Version* v = resp->add_messages();
    v->mutable_version()->set_tag(d_->version());
    v->mutable_version()->set_arch("amd64");
    v->mutable_version()->set_os("linux");
    v->mutable_platform()->set_name("metal");
    v->mutable_platform()->set_mode("metal");
    if (!d_->maintenance) v->mutable_features()->set_rbac(true);
    return Status::OK;
  }

  Status Bootstrap(ServerContext* ctx, const machine::BootstrapRequest*, machine::BootstrapResponse* resp) override {
    if (Status st = d_->Authorize(ctx, "Bootstrap"); !st.ok()) return st;
    if (!d_->controlplane())
      return Status(StatusCode::UNIMPLEMENTED, "bootstrap is only available on control plane nodes");
    {
      std::lock_guard lock(d_->mu);
      const int call = d_->bootstrap_calls++;
      // Every call is logged with its answer: the e2e cluster scenario counts them.
      const std::string n = "Bootstrap call " + std::to_string(call + 1) + ": ";
      if (call < d_->settings.not_ready_bootstraps) {
        const char* why = call % 2 == 0 ? "bootstrap is not available yet" : "time is not in sync yet";
        Log(n + "FailedPrecondition (" + why + ")");
        return Status(StatusCode::FAILED_PRECONDITION, why);
      }
      if (d_->state.bootstrapped) {
        Log(n + "AlreadyExists");
        return Status(StatusCode::ALREADY_EXISTS, "etcd data directory is not empty");
      }
      d_->state.bootstrapped = true;
      d_->Persist();
      Log(n + "OK");
    }
    Log("bootstrapped etcd");
    machine::ServiceStateEvent etcd;
    etcd.set_service("etcd");
    etcd.set_action(machine::ServiceStateEvent::RUNNING);
    etcd.set_message("Health check successful");
    d_->Publish(etcd);
    resp->add_messages();
    return Status::OK;
  }

  Status Kubeconfig(ServerContext* ctx, const google::protobuf::Empty*,
                    grpc::ServerWriter<common::Data>* writer) override {
    if (Status st = d_->Authorize(ctx, "Kubeconfig"); !st.ok()) return st;
    if (!d_->controlplane())
      return Status(StatusCode::UNIMPLEMENTED, "kubeconfig is only available on control plane nodes");
    {
      std::lock_guard lock(d_->mu);
      if (!d_->state.bootstrapped)
        return Status(StatusCode::FAILED_PRECONDITION, "kubeconfig is not available: the cluster is not bootstrapped");
    }
    auto kubeconfig = AdminKubeconfig(d_->facts);
    if (!kubeconfig) return Status(StatusCode::FAILED_PRECONDITION, kubeconfig.status().message());
    auto archive = SingleFileTarGz("kubeconfig", *kubeconfig);
    if (!archive) return Status(StatusCode::INTERNAL, archive.status().message());
    // In chunks, as Talos's Copy-style streams arrive.
    constexpr std::size_t kChunk = 1024;
    for (std::size_t at = 0; at < archive->size(); at += kChunk) {
      common::Data chunk;
      chunk.set_bytes(archive->substr(at, kChunk));
      if (!writer->Write(chunk)) return Status(StatusCode::CANCELLED, "client went away");
    }
    Log("served the kubeconfig (" + std::to_string(archive->size()) + " bytes of tar.gz; kubeconfig sha256 " +
        Sha256Hex(*kubeconfig) + ")");
    return Status::OK;
  }

  Status EtcdMemberList(ServerContext* ctx, const machine::EtcdMemberListRequest*,
                        machine::EtcdMemberListResponse* resp) override {
    if (Status st = d_->Authorize(ctx, "EtcdMemberList"); !st.ok()) return st;
    if (d_->maintenance)
      return Status(StatusCode::UNIMPLEMENTED, "machine type is not set, cannot use member list API");
    if (!d_->controlplane())
      return Status(StatusCode::UNIMPLEMENTED, "member list is only available on control plane nodes");
    std::lock_guard lock(d_->mu);
    if (!d_->state.bootstrapped) return Status(StatusCode::UNAVAILABLE, "etcd is not running yet");
    machine::EtcdMembers* members = resp->add_messages();
    machine::EtcdMember* m = members->add_members();
    m->set_id(std::hash<std::string>{}(d_->facts.hostname));
    m->set_hostname(d_->facts.hostname);
    const std::string ip = d_->settings.addresses.empty() ? "127.0.0.1" : d_->settings.addresses.front();
    m->add_peer_urls("https://" + ip + ":2380");
    m->add_client_urls("https://" + ip + ":2379");
    members->add_legacy_members(d_->facts.hostname);
    return Status::OK;
  }

  Status ApplyConfiguration(ServerContext* ctx, const machine::ApplyConfigurationRequest* req,
                            machine::ApplyConfigurationResponse* resp) override {
    if (Status st = d_->Authorize(ctx, "ApplyConfiguration"); !st.ok()) return st;
    if (!d_->maintenance && !d_->RolesOf(ctx).count("os:admin")) return Status(StatusCode::PERMISSION_DENIED, "not authorized");
    auto facts = FactsFromTalosConfig(req->data(), "", "");
    if (!facts) return Status(StatusCode::INVALID_ARGUMENT, facts.status().message());
    using Mode = machine::ApplyConfigurationRequest;
    if (req->mode() != Mode::REBOOT && req->mode() != Mode::AUTO && req->mode() != Mode::NO_REBOOT)
      return Status(StatusCode::INVALID_ARGUMENT,
                    "incorrect mode '" + Mode::Mode_Name(req->mode()) + "' specified for the apply config call");
    machine::ApplyConfiguration* a = resp->add_messages();
    a->set_mode(Mode::NO_REBOOT);
    a->set_mode_details("Applied configuration without a reboot");
    if (d_->maintenance) {
      std::lock_guard lock(d_->mu);
      d_->applied = req->data();
      d_->stop = true;  // the maintenance API goes away; the node installs with the config
      d_->cv.notify_all();
    }
    Log("config applied (" + std::to_string(req->data().size()) + " bytes, role " + facts->role + ")");
    return Status::OK;
  }

  Status Upgrade(ServerContext* ctx, const machine::UpgradeRequest* req, machine::UpgradeResponse* resp) override {
    if (Status st = d_->Authorize(ctx, "Upgrade"); !st.ok()) return st;
    // Talos pulls the installer before it answers (machined's Upgrade:
    // "error validating installer image %q: %w", code Unknown); containerd
    // reports an image the registry does not have as "<ref>: not found".
    const auto version = VersionOfInstallerImage(req->image());
    const auto& known = d_->settings.installer_versions;
    if (!version || (!known.empty() && std::find(known.begin(), known.end(), *version) == known.end())) {
      Log("upgrade to " + req->image() + " refused: the image cannot be pulled");
      return Status(StatusCode::UNKNOWN, "error validating installer image \"" + req->image() +
                                             "\": failed to resolve reference \"" + req->image() + "\": " +
                                             req->image() + ": not found");
    }
    {
      std::lock_guard lock(d_->mu);
      if (!d_->running_until_reboot) d_->running_until_reboot = d_->version();
      d_->state.upgrade_image = req->image();
      d_->state.version = *version;
      d_->Persist();
      d_->reboot = true;
      d_->cv.notify_all();
    }
    Log("upgrade to " + req->image() + " accepted; rebooting");
    machine::Upgrade* u = resp->add_messages();
    u->set_ack("Upgrade request received");
    u->set_actor_id(NewEventId());
    return Status::OK;
  }

  Status Events(ServerContext* ctx, const machine::EventsRequest* req,
                grpc::ServerWriter<machine::Event>* writer) override {
    if (Status st = d_->Authorize(ctx, "Events"); !st.ok()) return st;
    machine::Event hello;  // Talos opens every stream with an empty event
    hello.set_id(NewEventId());
    if (!writer->Write(hello)) return Status::OK;
    std::unique_lock lock(d_->mu);
    std::size_t next = d_->events.size();
    if (req->tail_events() < 0) next = 0;
    else next -= std::min<std::size_t>(next, static_cast<std::size_t>(req->tail_events()));
    while (!ctx->IsCancelled() && !d_->stop && !d_->reboot) {
      while (next < d_->events.size()) {
        machine::Event e = d_->events[next++];
        lock.unlock();
        if (!writer->Write(e)) return Status::OK;
        lock.lock();
      }
      d_->cv.wait_for(lock, std::chrono::milliseconds(200));
    }
    return Status::OK;
  }

 private:
  StandinApid::Impl* d_;
};

}  // namespace

StandinApid::StandinApid(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StandinApid::~StandinApid() = default;

Result<std::unique_ptr<StandinApid>> StandinApid::Running(MachineConfigFacts facts, ApidSettings settings) {
  if (facts.machine_ca_crt.empty())
    return metalpxe::Status(ErrorCode::kFailedPrecondition, "the config has no machine.ca.crt");
  std::vector<std::string> dns;
  if (!facts.hostname.empty()) dns.push_back(facts.hostname);
  Result<IssuedPair> pair = metalpxe::Status(ErrorCode::kInternal, "no certificate");
  if (!facts.machine_ca_key.empty()) {
    // A control plane signs its own apid certificate with machine.ca.
    pair = IssueApidCertificate(facts.machine_ca_crt, facts.machine_ca_key, settings.addresses, dns);
  } else {
    // A worker asks trustd on the control plane endpoint's host.
    const std::string host = EndpointHost(facts.endpoint);
    if (host.empty())
      return metalpxe::Status(ErrorCode::kFailedPrecondition,
                              "a worker needs cluster.controlPlane.endpoint (https://IP:PORT) to reach trustd");
    Log("asking trustd at " + host + ":50001 for the apid certificate");
    pair = RequestApidCertificate(host, facts.machine_token, facts.machine_ca_crt, settings.addresses,
                                  facts.hostname, settings.trustd_budget);
  }
  if (!pair) return pair.status();
  auto state = LoadApidState(settings.state_path, settings.state_offset);
  if (!state) return state.status();
  auto impl = std::make_unique<Impl>();
  impl->settings = std::move(settings);
  impl->facts = std::move(facts);
  impl->server_cert = pair->cert_pem;
  impl->server_key = pair->key_pem;
  impl->state = *state;
  return std::unique_ptr<StandinApid>(new StandinApid(std::move(impl)));
}

Result<std::unique_ptr<StandinApid>> StandinApid::Maintenance(ApidSettings settings) {
  auto pair = MaintenanceCertificate(settings.addresses);
  if (!pair) return pair.status();
  auto impl = std::make_unique<Impl>();
  impl->settings = std::move(settings);
  impl->maintenance = true;
  impl->server_cert = pair->cert_pem;
  impl->server_key = pair->key_pem;
  return std::unique_ptr<StandinApid>(new StandinApid(std::move(impl)));
}

void StandinApid::Serve() {
  Impl& d = *impl_;
  MachineServiceImpl service(&d);
  while (true) {
    grpc::SslServerCredentialsOptions ssl(d.maintenance ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                                        : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    if (!d.maintenance) ssl.pem_root_certs = d.facts.machine_ca_crt;
    ssl.pem_key_cert_pairs.push_back({d.server_key, d.server_cert});
    grpc::ServerBuilder builder;
    builder.AddListeningPort(d.settings.listen, grpc::SslServerCredentials(ssl));
    builder.RegisterService(&service);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (!server) {
      Log("FAILED to listen on " + d.settings.listen);
      return;
    }
    // trustd beside apid on control planes: TLS without client certificates,
    // so on its own server (a port of apid's would expose MachineService too).
    std::unique_ptr<grpc::Service> trustd;
    std::unique_ptr<grpc::Server> trustd_server;
    if (!d.maintenance && d.controlplane()) {
      trustd = MakeTrustdService(d.facts.machine_ca_crt, d.facts.machine_ca_key, d.facts.machine_token);
      grpc::SslServerCredentialsOptions tls(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
      tls.pem_key_cert_pairs.push_back({d.server_key, d.server_cert});
      grpc::ServerBuilder tb;
      const std::string at = d.settings.listen.substr(0, d.settings.listen.rfind(':')) + ":50001";
      tb.AddListeningPort(at, grpc::SslServerCredentials(tls));
      tb.RegisterService(trustd.get());
      trustd_server = tb.BuildAndStart();
      if (!trustd_server) Log("FAILED to listen on " + at + " (trustd)");
    }
    if (d.maintenance) {
      Log("maintenance mode: listening on " + d.settings.listen + " (TLS, no client certificate)");
      d.PublishStage(machine::MachineStatusEvent::MAINTENANCE, false);
    } else {
      Log("running " + d.version() + " as " + d.facts.role + ": listening on " + d.settings.listen +
          " (mutual TLS, machine.ca)");
      d.PublishSequence("boot", machine::SequenceEvent::START);
      d.PublishSequence("boot", machine::SequenceEvent::STOP);
      d.PublishStage(machine::MachineStatusEvent::RUNNING, true);
    }
    bool reboot = false;
    {
      std::unique_lock lock(d.mu);
      d.cv.wait(lock, [&] { return d.stop || d.reboot; });
      reboot = d.reboot && !d.stop;
    }
    if (reboot) d.PublishStage(machine::MachineStatusEvent::REBOOTING, false);
    // Give answers in flight (the Upgrade acknowledgement) time to leave.
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server->Wait();
    if (trustd_server) trustd_server->Shutdown(std::chrono::system_clock::now());
    if (!reboot) break;
    Log("rebooting for the upgrade");
    std::this_thread::sleep_for(d.settings.reboot_time);
    std::lock_guard lock(d.mu);
    d.reboot = false;
    d.running_until_reboot.reset();
  }
  Log("stopped");
}

void StandinApid::Stop() {
  std::lock_guard lock(impl_->mu);
  impl_->stop = true;
  impl_->cv.notify_all();
}

std::optional<std::string> StandinApid::applied_config() const {
  std::lock_guard lock(impl_->mu);
  return impl_->applied;
}

}  // namespace metalpxe::standin
