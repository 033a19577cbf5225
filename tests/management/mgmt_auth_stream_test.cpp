// Mutual TLS refuses strangers (foreign CA, foreign client certificate, no
// certificate, plaintext), and followed streams (events -w, logs -f) print
// new items as they happen and end cleanly.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "metalpxe/v1/management.grpc.pb.h"
#include "tests/management/mgmt_fixture.h"

namespace metalpxe::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr const char* kCertMessage = "use the client config metalpxed wrote to <stateDir>/pki/admin.metalpxeconfig";

using MgmtAuth = LiveServer;

grpc::Status CallVersion(const std::shared_ptr<grpc::ChannelCredentials>& creds, const std::string& endpoint) {
  auto stub = metalpxe::v1::Management::NewStub(grpc::CreateChannel(endpoint, creds));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  metalpxe::v1::VersionResponse resp;
  return stub->Version(&ctx, {}, &resp);
}

TEST_F(MgmtAuth, ConfigFromAnotherApplianceIsRefused) {
  TempDir other;
  auto foreign = EnsureApiPki(other.path(), Ipv4Address::FromOctets(10, 66, 0, 1), "other");
  ASSERT_TRUE(foreign.ok());
  auto path = WriteConfigFor(*foreign, endpoint_, other.path() + "/c");
  auto r = RunCommand({CtlPath(), "--config", path, "machines"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  // Its CA did not sign our server's certificate: we refuse first, and say so.
  EXPECT_THAT(r.output, HasSubstr("we refused the certificate of the server at " + endpoint_));
  EXPECT_THAT(r.output, HasSubstr(kCertMessage));
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr("node-a")));
}

TEST_F(MgmtAuth, ForeignClientCertificateIsRefusedByTheServer) {
  // Trusts our server (right CA) but presents a certificate another CA signed.
  TempDir other;
  auto foreign = EnsureApiPki(other.path(), Ipv4Address::FromOctets(10, 66, 0, 1), "other");
  ASSERT_TRUE(foreign.ok());
  auto theirs = LoadClientConfig(foreign->client_config_path);
  ASSERT_TRUE(theirs.ok());
  ClientConfig mixed{endpoint_, pki_.ca_cert_pem, theirs->cert_pem, theirs->key_pem};
  ASSERT_TRUE(WritePrivateFile(other.path() + "/mixed", RenderClientConfig(mixed)).ok());
  auto r = RunCommand({CtlPath(), "--config", other.path() + "/mixed", "machines"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("the server at " + endpoint_ + " refused this client's certificate"));
  EXPECT_THAT(r.output, HasSubstr(kCertMessage));

  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = pki_.ca_cert_pem;
  ssl.pem_cert_chain = theirs->cert_pem;
  ssl.pem_private_key = theirs->key_pem.Reveal();
  EXPECT_FALSE(CallVersion(grpc::SslCredentials(ssl), endpoint_).ok());
}

TEST_F(MgmtAuth, NoClientCertificateIsRefused) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = pki_.ca_cert_pem;  // TLS, server verified, but no client certificate
  auto status = CallVersion(grpc::SslCredentials(ssl), endpoint_);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(MgmtAuth, PlaintextClientIsRefused) {
  auto status = CallVersion(grpc::InsecureChannelCredentials(), endpoint_);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(MgmtAuth, AdminCertificateIsAccepted) {
  auto config = LoadClientConfig(config_);
  ASSERT_TRUE(config.ok());
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = config->ca_pem;
  ssl.pem_cert_chain = config->cert_pem;
  ssl.pem_private_key = config->key_pem.Reveal();
  auto status = CallVersion(grpc::SslCredentials(ssl), endpoint_);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

using MgmtStream = LiveServer;

TEST_F(MgmtStream, EventsWatchFollowsNewEvents) {
  auto watch = CtlStart({"events", "-w"});
  ASSERT_TRUE(WaitFor([&] { return watch.Stdout().find("installed to /dev/sda") != std::string::npos; }, 20s))
      << watch.Describe();
  ASSERT_TRUE(WaitFor([&] { return backend_.event_subscribers() == 1; }, 10s));
  backend_.EmitEvent("node-a", "power", "cycled by the test");
  EXPECT_TRUE(WaitFor([&] { return watch.Stdout().find("cycled by the test") != std::string::npos; }, 20s))
      << watch.Describe();
  backend_.EmitEvent("node-a", "install", "second live event");
  EXPECT_TRUE(WaitFor([&] { return watch.Stdout().find("second live event") != std::string::npos; }, 20s))
      << watch.Describe();
  EXPECT_TRUE(watch.Running());
  watch.Kill(SIGTERM);
  watch.Wait(10s);
  // The server notices the client left and drops its subscription.
  EXPECT_TRUE(WaitFor([&] { return backend_.event_subscribers() == 0; }, 10s));
}

TEST_F(MgmtStream, EventsWatchJsonLinesFilteredByMachine) {
  auto watch = CtlStart({"-o", "json", "events", "-w", "--machine", "node-a", "--since", "1m"});
  ASSERT_TRUE(WaitFor([&] { return backend_.event_subscribers() == 1; }, 20s)) << watch.Describe();
  backend_.EmitEvent("node-z", "dhcp", "someone else");
  backend_.EmitEvent("node-a", "dhcp", "ours");
  ASSERT_TRUE(WaitFor([&] { return watch.Stdout().find("ours") != std::string::npos; }, 20s)) << watch.Describe();
  const std::string out = watch.Stdout();
  EXPECT_EQ(out.find("someone else"), std::string::npos) << out;
  EXPECT_EQ(out.find("offered"), std::string::npos) << out;  // history older than --since
  auto j = nlohmann::json::parse(out.substr(0, out.find('\n')));
  EXPECT_EQ(j["machine"], "node-a");
  EXPECT_EQ(j["message"], "ours");
}

TEST_F(MgmtStream, TimelineWatchPrintsNewEntriesAndRepeats) {
  auto watch = CtlStart({"timeline", "node-a", "-w"});
  ASSERT_TRUE(WaitFor([&] { return watch.Stdout().find("HTTP GET /ipxe") != std::string::npos; }, 20s))
      << watch.Describe();
  ASSERT_TRUE(WaitFor([&] { return backend_.timeline_subscribers() == 1; }, 10s));
  backend_.EmitTimeline("node-a", "state", "pending-install -> installing: config fetched");
  EXPECT_TRUE(WaitFor([&] { return watch.Stdout().find("state    pending-install -> installing") != std::string::npos; },
                      20s))
      << watch.Describe();
  backend_.EmitTimeline("node-a", "state", "", /*repeat=*/true);
  EXPECT_TRUE(WaitFor([&] { return watch.Stdout().find("config fetched (x2, last ") != std::string::npos; }, 20s))
      << watch.Describe();
  backend_.EmitTimeline("node-d", "dhcp", "not this machine");
  backend_.EmitTimeline("node-a", "kmsg", "kernel started");
  EXPECT_TRUE(WaitFor([&] { return watch.Stdout().find("kernel started") != std::string::npos; }, 20s));
  EXPECT_EQ(watch.Stdout().find("not this machine"), std::string::npos);
  watch.Kill(SIGTERM);
  watch.Wait(10s);
  EXPECT_TRUE(WaitFor([&] { return backend_.timeline_subscribers() == 0; }, 10s));
}

TEST_F(MgmtStream, LogsFollowPrintsNewLines) {
  auto follow = CtlStart({"logs", "node-a", "-f"});
  ASSERT_TRUE(WaitFor([&] { return follow.Stdout().find("boot line 2") != std::string::npos; }, 20s))
      << follow.Describe();
  ASSERT_TRUE(WaitFor([&] { return backend_.log_subscribers() == 1; }, 10s));
  backend_.EmitLogLine("node-a", "talos: machine is running");
  EXPECT_TRUE(WaitFor([&] { return follow.Stdout().find("kern.info talos: machine is running") != std::string::npos; },
                      20s))
      << follow.Describe();
  backend_.EmitLogLine("node-x", "not this machine");
  backend_.EmitLogLine("node-a", "after the other");
  EXPECT_TRUE(WaitFor([&] { return follow.Stdout().find("after the other") != std::string::npos; }, 20s));
  EXPECT_EQ(follow.Stdout().find("not this machine"), std::string::npos);
  follow.Kill(SIGTERM);
  follow.Wait(10s);
  EXPECT_TRUE(WaitFor([&] { return backend_.log_subscribers() == 0; }, 10s));
}

TEST_F(MgmtStream, ServerShutdownEndsFollowersCleanly) {
  auto watch = CtlStart({"events", "-w"});
  ASSERT_TRUE(WaitFor([&] { return backend_.event_subscribers() == 1; }, 20s)) << watch.Describe();
  server_->Shutdown();
  auto code = watch.Wait(20s);
  ASSERT_TRUE(code.has_value()) << watch.Describe();
  EXPECT_EQ(*code, 0) << watch.Describe();
  EXPECT_EQ(backend_.event_subscribers(), 0);
}

}  // namespace
}  // namespace metalpxe::testing
