// Roles on the real management API, with real certificates signed by the
// appliance's CA: every rpc of the service descriptor is called with a
// viewer, an operator, an admin and a role-less certificate, and must be
// refused (PERMISSION_DENIED, naming the role it needs) exactly when the
// role table says so. Then the client config lifecycle through the real
// metalpxectl: config new / list / revoke, a revoked config refused, the
// deny list edited by hand, and the audit events of state-changing calls.
#include <fstream>

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "api/management/x509_issuer.h"
#include "core/api_roles.h"
#include "metalpxe/v1/management.grpc.pb.h"
#include "tests/management/mgmt_fixture.h"

namespace metalpxe::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr const char* kService = "metalpxe.v1.Management";

const google::protobuf::ServiceDescriptor* ManagementDescriptor() {
  // Touch a generated type so the descriptor is registered in the pool.
  (void)metalpxe::v1::VersionRequest::descriptor();
  return google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(kService);
}

std::vector<std::string> DescriptorRpcs() {
  std::vector<std::string> out;
  const auto* service = ManagementDescriptor();
  if (!service) return out;
  for (int i = 0; i < service->method_count(); ++i) out.push_back(service->method(i)->name());
  return out;
}

TEST(MgmtRoleTable, EveryRpcOfTheServiceHasExactlyOneRow) {
  const auto rpcs = DescriptorRpcs();
  ASSERT_GE(rpcs.size(), 16u);
  for (const auto& rpc : rpcs) {
    int rows = 0;
    for (const auto& rule : ManagementRpcRules()) rows += rule.rpc == rpc ? 1 : 0;
    EXPECT_EQ(rows, 1) << "rpc " << rpc << " of " << kService
                       << " needs exactly one row in core/api_roles.cpp (which role may call it?)";
  }
  for (const auto& rule : ManagementRpcRules()) {
    EXPECT_NE(std::find(rpcs.begin(), rpcs.end(), std::string(rule.rpc)), rpcs.end())
        << "core/api_roles.cpp has a row for " << rule.rpc << ", which the service does not have";
  }
}

// A client certificate signed by the appliance's CA with this Organization.
ClientConfig ConfigWithOrganization(const ApiPki& pki, const std::string& endpoint, const std::string& cn,
                                    const std::string& organization) {
  LeafSpec spec;
  spec.common_name = cn;
  spec.organization = organization;
  auto pair = IssueLeaf(PemKeyPair{pki.ca_cert_pem, pki.ca_key_pem}, spec);
  EXPECT_TRUE(pair.ok()) << pair.status().ToString();
  return ClientConfig{endpoint, pki.ca_cert_pem, pair->cert_pem, pair->key_pem};
}

std::shared_ptr<grpc::Channel> ChannelFor(const ClientConfig& c) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = c.ca_pem;
  ssl.pem_cert_chain = c.cert_pem;
  ssl.pem_private_key = c.key_pem.Reveal();
  return grpc::CreateChannel(c.endpoint, grpc::SslCredentials(ssl));
}

// Calls /metalpxe.v1.Management/<rpc> with an empty request (every field at
// its default: no rpc acts on it, the state-changing ones refuse it as
// invalid), as bytes over a generic stream, so the test needs no code per
// rpc and reads a server stream's messages to its end like a real client.
grpc::Status CallEmpty(const std::shared_ptr<grpc::Channel>& channel, const std::string& rpc) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 20s);
  auto step = [&cq] {
    void* tag = nullptr;
    bool ok = false;
    return cq.Next(&tag, &ok) && ok;
  };
  auto call = stub.PrepareCall(&ctx, "/" + std::string(kService) + "/" + rpc, &cq);
  call->StartCall(reinterpret_cast<void*>(1));
  if (step()) {
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1);
    call->Write(request, reinterpret_cast<void*>(2));
    if (step()) {
      call->WritesDone(reinterpret_cast<void*>(3));
      if (step()) {
        grpc::ByteBuffer response;
        for (int i = 0; i < 10000; ++i) {  // bounded: the fake backend's history is a handful
          call->Read(&response, reinterpret_cast<void*>(4));
          if (!step()) break;
        }
      }
    }
  }
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step();
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

using MgmtRoles = LiveServer;

TEST_F(MgmtRoles, EveryRpcIsCheckedForEveryRole) {
  const auto rpcs = DescriptorRpcs();
  ASSERT_FALSE(rpcs.empty());
  struct Holder {
    std::optional<ApiRole> role;
    std::string organization;
  };
  const std::vector<Holder> holders = {{ApiRole::kViewer, "metalpxe:viewer"},
                                       {ApiRole::kOperator, "metalpxe:operator"},
                                       {ApiRole::kAdmin, "metalpxe:admin"},
                                       {std::nullopt, "example:admin"}};
  int refused = 0, allowed = 0;
  for (const auto& h : holders) {
    auto channel = ChannelFor(ConfigWithOrganization(pki_, endpoint_, "tester", h.organization));
    for (const auto& rpc : rpcs) {
      const ApiRpcRule rule = RuleForRpc(rpc);
      const bool may = h.role && *h.role >= rule.required;
      auto status = CallEmpty(channel, rpc);
      SCOPED_TRACE(h.organization + " calls " + rpc + ": " + std::to_string(status.error_code()) + " " +
                   status.error_message());
      if (may) {
        // Served: reads answer, the rest find the empty request invalid.
        EXPECT_TRUE(status.error_code() == grpc::StatusCode::OK ||
                    status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
        ++allowed;
      } else {
        EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
        EXPECT_THAT(status.error_message(),
                    HasSubstr(rpc + " needs the " + std::string(ApiRoleName(rule.required)) + " role"));
        ++refused;
      }
    }
  }
  // viewer: 16 - 9 reads refused 7; operator: 3 admin rpcs; admin: none; no role: all.
  EXPECT_EQ(refused + allowed, static_cast<int>(4 * rpcs.size()));
  EXPECT_GT(refused, static_cast<int>(rpcs.size()));
  // No state changed: the empty requests were refused or invalid.
  EXPECT_TRUE(backend_.calls().empty());
}

TEST_F(MgmtRoles, ViewerReadsButCannotPowerReinstallOrAccept) {
  const std::string viewer = state_.path() + "/viewer.metalpxeconfig";
  ASSERT_TRUE(WritePrivateFile(viewer, RenderClientConfig(ConfigWithOrganization(pki_, endpoint_, "vera",
                                                                                  "metalpxe:viewer")))
                  .ok());
  auto as_viewer = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {CtlPath(), "--config", viewer};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, 60s);
  };
  auto list = as_viewer({"machines"});
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr("node-a"));
  auto power = as_viewer({"power", "cycle", "node-a"});
  EXPECT_EQ(power.exit_code, 1) << power.output;
  EXPECT_THAT(power.output, HasSubstr("permission denied: Power needs the operator role"));
  EXPECT_THAT(power.output, HasSubstr("has the viewer role"));
  auto reinstall = as_viewer({"reinstall", "node-a"});
  EXPECT_EQ(reinstall.exit_code, 1) << reinstall.output;
  EXPECT_THAT(reinstall.output, HasSubstr("Reinstall needs the operator role"));
  auto accept = as_viewer({"accept", "52:54:00:00:00:0d", "--name", "node-d", "--role", "worker"});
  EXPECT_EQ(accept.exit_code, 1) << accept.output;
  EXPECT_THAT(accept.output, HasSubstr("AcceptMachine needs the operator role"));
  auto issue = as_viewer({"config", "new", "mallory", "--role", "admin", state_.path() + "/m"});
  EXPECT_EQ(issue.exit_code, 1) << issue.output;
  EXPECT_THAT(issue.output, HasSubstr("IssueClientConfig needs the admin role"));
  EXPECT_FALSE(std::filesystem::exists(state_.path() + "/m"));
  EXPECT_TRUE(backend_.calls().empty());  // nothing reached the backend

  // The refused attempts are in the history, with the caller's name.
  auto audit = backend_.api_calls();
  ASSERT_EQ(audit.size(), 4u);
  for (const auto& a : audit) {
    EXPECT_EQ(a.caller, "vera");
    EXPECT_THAT(a.message, HasSubstr("vera: refused: "));
  }
}

TEST_F(MgmtRoles, OperatorActsAndEachActionIsAnEventWithItsName) {
  const std::string ops = state_.path() + "/ops.metalpxeconfig";
  ASSERT_TRUE(
      WritePrivateFile(ops, RenderClientConfig(ConfigWithOrganization(pki_, endpoint_, "olga", "metalpxe:operator")))
          .ok());
  auto as_ops = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {CtlPath(), "--config", ops};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, 60s);
  };
  auto cycle = as_ops({"power", "cycle", "node-a"});
  EXPECT_EQ(cycle.exit_code, 0) << cycle.output;
  auto again = as_ops({"power", "cycle", "node-a"});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  auto status = as_ops({"power", "status", "node-a"});
  EXPECT_EQ(status.exit_code, 0) << status.output;
  auto reinstall = as_ops({"reinstall", "node-a", "--wipe"});
  EXPECT_EQ(reinstall.exit_code, 0) << reinstall.output;
  auto list = as_ops({"config", "list"});
  EXPECT_EQ(list.exit_code, 1) << list.output;
  EXPECT_THAT(list.output, HasSubstr("ListClientConfigs needs the admin role"));

  auto audit = backend_.api_calls();
  std::vector<std::string> messages;
  for (const auto& a : audit) {
    EXPECT_EQ(a.caller, "olga");
    messages.push_back(a.message);
  }
  // Both cycles (a repeated action is still someone's action); no event for
  // the status query nor for the (read-only) refused list.
  EXPECT_THAT(messages, ::testing::ElementsAre("olga: power CYCLE node-a: ok", "olga: power CYCLE node-a: ok",
                                               "olga: reinstall node-a (wipe): ok"));
  EXPECT_EQ(audit[0].machine, "node-a");
  EXPECT_EQ(audit[0].rpc, "Power");
}

TEST_F(MgmtRoles, ConfigNewListRevokeThroughMetalpxectl) {
  const std::string bob = state_.path() + "/bob.metalpxeconfig";
  auto issued = Ctl({"config", "new", "bob", "--role", "viewer", bob});
  ASSERT_EQ(issued.exit_code, 0) << issued.output;
  EXPECT_THAT(issued.output, HasSubstr("wrote client config bob (role viewer"));
  struct stat st{};
  ASSERT_EQ(::stat(bob.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto config = LoadClientConfig(bob);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->endpoint, endpoint_);
  auto id = ReadCertificateIdentity(config->cert_pem);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->common_name, "bob");
  EXPECT_EQ(id->organizations, std::vector<std::string>{"metalpxe:viewer"});

  // Not over an existing file, and not a second valid "bob".
  auto exists = Ctl({"config", "new", "bob", "--role", "viewer", bob});
  EXPECT_EQ(exists.exit_code, 2) << exists.output;
  EXPECT_THAT(exists.output, HasSubstr("exists"));
  auto duplicate = Ctl({"config", "new", "bob", "--role", "admin", state_.path() + "/bob2"});
  EXPECT_EQ(duplicate.exit_code, 1) << duplicate.output;
  EXPECT_THAT(duplicate.output, HasSubstr("a valid client config named bob exists"));
  auto bad_name = Ctl({"config", "new", "Bob/../x", "--role", "viewer", state_.path() + "/x"});
  EXPECT_EQ(bad_name.exit_code, 1) << bad_name.output;
  EXPECT_THAT(bad_name.output, HasSubstr("client name must be"));

  // The new config works, as a viewer.
  auto as_bob = RunCommand({CtlPath(), "--config", bob, "machines"}, 60s);
  EXPECT_EQ(as_bob.exit_code, 0) << as_bob.output;
  auto bob_power = RunCommand({CtlPath(), "--config", bob, "power", "off", "node-a"}, 60s);
  EXPECT_EQ(bob_power.exit_code, 1) << bob_power.output;
  EXPECT_THAT(bob_power.output, HasSubstr("needs the operator role"));

  auto list = Ctl({"-o", "json", "config", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  auto entries = nlohmann::json::parse(list.output);
  ASSERT_EQ(entries.size(), 2u) << list.output;  // the first-start admin, and bob
  EXPECT_EQ(entries[0]["name"], "admin");
  EXPECT_EQ(entries[0]["role"], "admin");
  EXPECT_EQ(entries[1]["name"], "bob");
  EXPECT_EQ(entries[1]["role"], "viewer");
  EXPECT_EQ(entries[1]["serial"], id->serial);
  EXPECT_EQ(entries[1]["issuedBy"], "admin");
  EXPECT_EQ(entries[1]["revokedUnix"], 0);

  auto revoke = Ctl({"config", "revoke", "bob"});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.output;
  EXPECT_THAT(revoke.output, HasSubstr("revoked client config bob (serial " + id->serial + ")"));
  auto refused = RunCommand({CtlPath(), "--config", bob, "machines"}, 60s);
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("serial " + id->serial + ") was revoked"));
  auto twice = Ctl({"config", "revoke", id->serial});
  EXPECT_EQ(twice.exit_code, 1) << twice.output;
  EXPECT_THAT(twice.output, HasSubstr("already revoked"));
  // The name is free again.
  auto reissued = Ctl({"config", "new", "bob", "--role", "operator", state_.path() + "/bob-new"});
  EXPECT_EQ(reissued.exit_code, 0) << reissued.output;

  // An admin cannot revoke the certificate it is calling with.
  auto self = Ctl({"config", "revoke", "admin"});
  EXPECT_EQ(self.exit_code, 1) << self.output;
  EXPECT_THAT(self.output, HasSubstr("the one this request was made with"));

  // Neither the ledger, the deny list, the events nor the log carry a key.
  for (const char* file : {"/pki/issued.yaml", "/pki/revoked"}) {
    std::ifstream in(state_.path() + file);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    EXPECT_THAT(text, Not(HasSubstr("PRIVATE KEY"))) << file;
    EXPECT_THAT(text, Not(HasSubstr("BEGIN"))) << file;
  }
  std::vector<std::string> messages;
  for (const auto& a : backend_.api_calls()) {
    EXPECT_THAT(a.message, Not(HasSubstr("PRIVATE KEY")));
    if (a.caller == "admin") messages.push_back(a.message);
  }
  EXPECT_THAT(messages, ::testing::Contains(HasSubstr("admin: issue client config bob (viewer), serial " + id->serial +
                                                      ": ok")));
  EXPECT_THAT(messages, ::testing::Contains("admin: revoke client config bob, serial " + id->serial + ": ok"));
}

TEST_F(MgmtRoles, RevocationSurvivesARestartAndTheDenyListIsReadWhenEdited) {
  const ClientConfig carol = ConfigWithOrganization(pki_, endpoint_, "carol", "metalpxe:admin");
  auto channel = ChannelFor(carol);
  ASSERT_TRUE(CallEmpty(channel, "Version").ok());
  auto id = ReadCertificateIdentity(carol.cert_pem);
  ASSERT_TRUE(id.ok());
  // By hand, in the documented form (colons, upper case, a comment).
  std::string colons;
  for (std::size_t i = 0; i < id->serial.size(); ++i) {
    if (i && (id->serial.size() - i) % 2 == 0) colons += ':';
    colons += static_cast<char>(std::toupper(static_cast<unsigned char>(id->serial[i])));
  }
  {
    std::ofstream out(state_.path() + "/pki/revoked", std::ios::app);
    out << "# carol left\n" << colons << "\n";
  }
  auto status = CallEmpty(channel, "Version");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("was revoked"));

  // A damaged deny list refuses everyone until it is fixed.
  {
    std::ofstream out(state_.path() + "/pki/revoked", std::ios::app);
    out << "not a serial\n";
  }
  auto admin = LoadClientConfig(config_);
  ASSERT_TRUE(admin.ok());
  auto admin_channel = ChannelFor(*admin);
  status = CallEmpty(admin_channel, "Version");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("deny list"));
  {
    std::ofstream out(state_.path() + "/pki/revoked", std::ios::trunc);
    out << colons << "\n";
  }
  EXPECT_TRUE(CallEmpty(admin_channel, "Version").ok());

  // A restarted server still refuses carol.
  server_->Shutdown();
  server_ = std::make_unique<ManagementServer>(endpoint_, pki_, backend_);
  ASSERT_TRUE(server_->Start().ok());
  auto fresh = ChannelFor(carol);
  status = CallEmpty(fresh, "Version");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_TRUE(CallEmpty(ChannelFor(*admin), "Version").ok());
}

}  // namespace
}  // namespace metalpxe::testing
