// The event sink against a real gRPC client built from the same protos, sending
// the event stream a Talos install produces (order and names from
// siderolabs/talos v1alpha1_controller.go / v1alpha1_sequencer.go).
#include "api/event_sink_server.h"

#include <mutex>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "api/proto/events/events.grpc.pb.h"
#include "api/proto/machine/machine_events.pb.h"
#include "api/talos_event_decode.h"
#include "core/provisioning/talos_install_signal.h"

namespace metalpxe {
namespace {

class Collector {
 public:
  void operator()(const TalosEvent& e) {
    std::lock_guard lock(mu_);
    events_.push_back(e);
  }
  std::vector<TalosEvent> events() {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::vector<TalosEvent> events_;
};

class Publisher {
 public:
  explicit Publisher(std::uint16_t port)
      : stub_(events::EventSinkService::NewStub(
            grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()))) {}

  grpc::Status Send(const events::EventRequest& req) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    events::EventResponse resp;
    return stub_->Publish(&ctx, req, &resp);
  }
  template <typename M>
  grpc::Status Publish(const M& payload, const std::string& actor = "") {
    events::EventRequest req;
    req.mutable_data()->PackFrom(payload);  // type.googleapis.com/<full name>, as Go's anypb.New
    req.set_id("ev" + std::to_string(++n_));
    req.set_actor_id(actor);
    return Send(req);
  }

 private:
  std::unique_ptr<events::EventSinkService::Stub> stub_;
  int n_ = 0;
};

machine::SequenceEvent Sequence(const std::string& name, machine::SequenceEvent::Action action,
                                const std::string& error = "", common::Code code = common::FATAL) {
  machine::SequenceEvent e;
  e.set_sequence(name);
  e.set_action(action);
  if (!error.empty()) {
    e.mutable_error()->set_code(code);
    e.mutable_error()->set_message(error);
  }
  return e;
}
machine::PhaseEvent Phase(const std::string& name, machine::PhaseEvent::Action action) {
  machine::PhaseEvent e;
  e.set_phase(name);
  e.set_action(action);
  return e;
}
machine::TaskEvent Task(const std::string& name, machine::TaskEvent::Action action) {
  machine::TaskEvent e;
  e.set_task(name);
  e.set_action(action);
  return e;
}
machine::MachineStatusEvent StageEvent(machine::MachineStatusEvent::MachineStage stage, bool ready) {
  machine::MachineStatusEvent e;
  e.set_stage(stage);
  e.mutable_status()->set_ready(ready);
  if (!ready) {
    auto* c = e.mutable_status()->add_unmet_conditions();
    c->set_name("nodeReady");
    c->set_reason("node not ready");
  }
  return e;
}

// Applies the signals in arrival order, as the machine state machine will.
std::optional<InstallSignal> Fold(const std::vector<TalosEvent>& events, bool installing) {
  std::optional<InstallSignal> last;
  for (const auto& e : events) {
    if (auto s = InterpretTalosEvent(e, installing)) {
      last = s;
      installing = s->kind == InstallSignal::Kind::kInstalling;
    }
  }
  return last;
}

class ApiEventSink : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<EventSinkServer>("127.0.0.1", 0, [this](const TalosEvent& e) { collector_(e); });
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_NE(server_->port(), 0);
    publisher_ = std::make_unique<Publisher>(server_->port());
  }
  Collector collector_;
  std::unique_ptr<EventSinkServer> server_;
  std::unique_ptr<Publisher> publisher_;
};

TEST_F(ApiEventSink, TypeUrlIsTheOneTalosSends) {
  google::protobuf::Any any;
  any.PackFrom(machine::SequenceEvent{});
  EXPECT_EQ(any.type_url(), "type.googleapis.com/machine.SequenceEvent");
  any.PackFrom(machine::MachineStatusEvent{});
  EXPECT_EQ(any.type_url(), "type.googleapis.com/machine.MachineStatusEvent");
}

TEST_F(ApiEventSink, SuccessfulInstallStreamIsDecodedAndMeansInstalled) {
  using SE = machine::SequenceEvent;
  using PE = machine::PhaseEvent;
  using TE = machine::TaskEvent;
  auto& p = *publisher_;
  ASSERT_TRUE(p.Publish(Sequence("initialize", SE::START)).ok());
  ASSERT_TRUE(p.Publish(StageEvent(machine::MachineStatusEvent::BOOTING, false)).ok());
  ASSERT_TRUE(p.Publish(Sequence("initialize", SE::STOP)).ok());
  ASSERT_TRUE(p.Publish(Sequence("install", SE::START)).ok());
  ASSERT_TRUE(p.Publish(StageEvent(machine::MachineStatusEvent::INSTALLING, false)).ok());
  ASSERT_TRUE(p.Publish(Phase("validateConfig", PE::START)).ok());
  ASSERT_TRUE(p.Publish(Phase("validateConfig", PE::STOP)).ok());
  ASSERT_TRUE(p.Publish(Phase("install", PE::START)).ok());
  ASSERT_TRUE(p.Publish(Task("install", TE::START)).ok());
  ASSERT_TRUE(p.Publish(Task("install", TE::STOP)).ok());
  ASSERT_TRUE(p.Publish(Phase("install", PE::STOP)).ok());
  ASSERT_TRUE(p.Publish(Phase("reboot", PE::START)).ok());
  machine::RestartEvent restart;
  restart.set_cmd(0x1234567);  // LINUX_REBOOT_CMD_RESTART
  ASSERT_TRUE(p.Publish(restart).ok());
  ASSERT_TRUE(p.Publish(Phase("reboot", PE::STOP)).ok());
  ASSERT_TRUE(p.Publish(Sequence("install", SE::STOP)).ok());
  ASSERT_TRUE(p.Publish(Sequence("install", SE::NOOP,
                                 "sequence failed: error running phase 14 in install sequence: task 1/1: failed, "
                                 "unix.Reboot(1234567)"))
                  .ok());

  auto got = collector_.events();
  ASSERT_EQ(got.size(), 16u);
  for (const auto& e : got) {
    EXPECT_EQ(e.peer, Ipv4Address::FromOctets(127, 0, 0, 1));
    EXPECT_TRUE(e.known_type) << e.type;
    EXPECT_FALSE(e.id.empty());
  }
  EXPECT_EQ(got[0].type, "machine.SequenceEvent");
  EXPECT_EQ(got[0].name, "initialize");
  EXPECT_EQ(got[0].action, "START");
  EXPECT_EQ(got[1].type, "machine.MachineStatusEvent");
  EXPECT_EQ(got[1].stage, "BOOTING");
  ASSERT_EQ(got[1].unmet_conditions.size(), 1u);
  EXPECT_EQ(got[1].unmet_conditions[0].first, "nodeReady");
  EXPECT_EQ(got[4].stage, "INSTALLING");
  EXPECT_EQ(got[7].type, "machine.PhaseEvent");
  EXPECT_EQ(got[7].name, "install");
  EXPECT_EQ(got[8].type, "machine.TaskEvent");
  EXPECT_EQ(got[8].action, "START");
  EXPECT_EQ(got[12].type, "machine.RestartEvent");
  EXPECT_EQ(got[12].restart_cmd, 0x1234567);
  EXPECT_EQ(got[15].error_code, "FATAL");

  auto result = Fold(got, /*installing=*/false);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->kind, InstallSignal::Kind::kInstalled);

  auto c = server_->counters();
  EXPECT_EQ(c.received, 16u);
  EXPECT_EQ(c.delivered, 16u);
  EXPECT_EQ(c.malformed, 0u);
  EXPECT_EQ(c.unknown_type, 0u);
}

TEST_F(ApiEventSink, FailedInstallStreamMeansFailedWithTalosMessage) {
  using SE = machine::SequenceEvent;
  auto& p = *publisher_;
  const std::string err = "sequence failed: error running phase 4 in install sequence: task 1/1: failed, "
                          "failed to determine install disk: no disk found";
  ASSERT_TRUE(p.Publish(Sequence("install", SE::START)).ok());
  ASSERT_TRUE(p.Publish(Phase("install", machine::PhaseEvent::START)).ok());
  ASSERT_TRUE(p.Publish(Phase("install", machine::PhaseEvent::STOP)).ok());
  ASSERT_TRUE(p.Publish(Sequence("install", SE::STOP)).ok());  // deferred STOP, sent on failure too
  ASSERT_TRUE(p.Publish(Sequence("install", SE::NOOP, err)).ok());

  auto got = collector_.events();
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[4].error, err);
  auto result = Fold(got, false);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->kind, InstallSignal::Kind::kFailed);
  EXPECT_NE(result->reason.find("no disk found"), std::string::npos);

  // A config that does not load fails too, with Talos's message.
  machine::ConfigLoadErrorEvent load;
  load.set_error("failed to fetch config: HTTP 403");
  ASSERT_TRUE(p.Publish(load).ok());
  machine::ConfigValidationErrorEvent validation;
  validation.set_error("machine.install.disk is required");
  ASSERT_TRUE(p.Publish(validation, "actor-1").ok());
  got = collector_.events();
  ASSERT_EQ(got.size(), 7u);
  EXPECT_EQ(got[5].error, "failed to fetch config: HTTP 403");
  EXPECT_EQ(got[6].actor_id, "actor-1");
  auto s = InterpretTalosEvent(got[5], true);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->kind, InstallSignal::Kind::kFailed);
  EXPECT_NE(s->reason.find("HTTP 403"), std::string::npos);
}

TEST_F(ApiEventSink, InstalledMachineRebootingSaysNothingAndFinishesAnInstall) {
  using SE = machine::SequenceEvent;
  auto& p = *publisher_;
  // What an installed Talos sends on every boot: the install sequence runs
  // with no phases, then boot.
  ASSERT_TRUE(p.Publish(Sequence("initialize", SE::START)).ok());
  ASSERT_TRUE(p.Publish(Sequence("initialize", SE::STOP)).ok());
  ASSERT_TRUE(p.Publish(Sequence("install", SE::START)).ok());
  ASSERT_TRUE(p.Publish(Sequence("install", SE::STOP)).ok());
  ASSERT_TRUE(p.Publish(Sequence("boot", SE::START)).ok());
  ASSERT_TRUE(p.Publish(StageEvent(machine::MachineStatusEvent::BOOTING, false)).ok());
  ASSERT_TRUE(p.Publish(Sequence("boot", SE::STOP)).ok());
  ASSERT_TRUE(p.Publish(StageEvent(machine::MachineStatusEvent::RUNNING, true)).ok());
  auto got = collector_.events();
  ASSERT_EQ(got.size(), 8u);
  EXPECT_FALSE(Fold(got, /*installing=*/false));  // installed machine: no change
  auto done = Fold(got, /*installing=*/true);     // first boot from disk after the install
  ASSERT_TRUE(done);
  EXPECT_EQ(done->kind, InstallSignal::Kind::kInstalled);
  EXPECT_TRUE(got[7].ready);
  EXPECT_TRUE(got[7].unmet_conditions.empty());
}

TEST_F(ApiEventSink, MalformedPayloadIsCountedDroppedAndServerKeepsServing) {
  events::EventRequest bad;
  bad.mutable_data()->set_type_url("type.googleapis.com/machine.SequenceEvent");
  bad.mutable_data()->set_value(std::string("\x0a\xff\xff\xff\xff\x0f", 6));  // length runs past the end
  bad.set_id("bad1");
  auto st = publisher_->Send(bad);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  events::EventRequest empty;  // no payload at all
  EXPECT_EQ(publisher_->Send(empty).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  events::EventRequest unknown;
  unknown.mutable_data()->set_type_url("type.googleapis.com/machine.SomethingNewEvent");
  unknown.mutable_data()->set_value("\x08\x01");
  unknown.set_id("u1");
  EXPECT_TRUE(publisher_->Send(unknown).ok());

  EXPECT_TRUE(publisher_->Publish(Sequence("boot", machine::SequenceEvent::START)).ok());

  auto got = collector_.events();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].type, "machine.SomethingNewEvent");
  EXPECT_FALSE(got[0].known_type);
  EXPECT_EQ(got[0].id, "u1");
  EXPECT_EQ(got[1].name, "boot");
  auto c = server_->counters();
  EXPECT_EQ(c.received, 4u);
  EXPECT_EQ(c.malformed, 2u);
  EXPECT_EQ(c.unknown_type, 1u);
  EXPECT_EQ(c.delivered, 2u);
}

TEST_F(ApiEventSink, ThrowingConsumerDoesNotKillTheSink) {
  server_.reset();
  server_ = std::make_unique<EventSinkServer>("127.0.0.1", 0, [](const TalosEvent&) { throw std::runtime_error("x"); });
  ASSERT_TRUE(server_->Start().ok());
  Publisher p(server_->port());
  EXPECT_EQ(p.Publish(Sequence("boot", machine::SequenceEvent::START)).error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(p.Publish(Sequence("boot", machine::SequenceEvent::STOP)).error_code(), grpc::StatusCode::INTERNAL);
}

TEST(ApiEventSinkPort, SecondServerOnSamePortFailsCleanly) {
  EventSinkServer a("127.0.0.1", 0, [](const TalosEvent&) {});
  ASSERT_TRUE(a.Start().ok());
  EventSinkServer b("127.0.0.1", a.port(), [](const TalosEvent&) {});
  EXPECT_FALSE(b.Start().ok());
}

TEST(ApiGrpcPeer, ParsesIpv4AndMappedIpv6) {
  EXPECT_EQ(ParseGrpcPeerIpv4("ipv4:10.66.0.7:51234"), Ipv4Address::FromOctets(10, 66, 0, 7));
  EXPECT_EQ(ParseGrpcPeerIpv4("ipv6:[::ffff:10.66.0.7]:51234"), Ipv4Address::FromOctets(10, 66, 0, 7));
  EXPECT_EQ(ParseGrpcPeerIpv4("ipv6:%5B::FFFF:10.66.0.7%5D:51234"), Ipv4Address::FromOctets(10, 66, 0, 7));
  EXPECT_FALSE(ParseGrpcPeerIpv4("ipv6:[::1]:51234"));
  EXPECT_FALSE(ParseGrpcPeerIpv4("ipv6:[2001:db8::1]:51234"));
  EXPECT_FALSE(ParseGrpcPeerIpv4("unix:/tmp/sock"));
  EXPECT_FALSE(ParseGrpcPeerIpv4("ipv4:10.66.0.7"));
  EXPECT_FALSE(ParseGrpcPeerIpv4("ipv4:10.66.0.7:"));
  EXPECT_FALSE(ParseGrpcPeerIpv4("ipv4:300.1.1.1:5"));
  EXPECT_FALSE(ParseGrpcPeerIpv4(""));
  EXPECT_FALSE(ParseGrpcPeerIpv4("ipv6:[]:1"));
}

// A sink on "::" (server.address6): IPv6 peers are machines too.
TEST(ApiGrpcPeer, ParsesIpv6PeersAndKeepsMappedOnesIpv4) {
  EXPECT_EQ(ParseGrpcPeer("ipv6:[fd00:66::150]:51234"), IpAddress(*Ipv6Address::Parse("fd00:66::150")));
  EXPECT_EQ(ParseGrpcPeer("ipv6:%5Bfd00:66::150%5D:51234"), IpAddress(*Ipv6Address::Parse("fd00:66::150")));
  EXPECT_EQ(ParseGrpcPeer("ipv6:[fe80::1%25eth0]:51234"), IpAddress(*Ipv6Address::Parse("fe80::1")));
  EXPECT_EQ(ParseGrpcPeer("ipv6:[::ffff:10.66.0.7]:1")->v4(), Ipv4Address::FromOctets(10, 66, 0, 7));
  EXPECT_EQ(ParseGrpcPeer("ipv4:10.66.0.7:1")->v4(), Ipv4Address::FromOctets(10, 66, 0, 7));
  EXPECT_FALSE(ParseGrpcPeer("ipv6:[fd00:66::150]"));
  EXPECT_FALSE(ParseGrpcPeer("ipv6:[fd00:66::zz]:1"));
  EXPECT_FALSE(ParseGrpcPeer("ipv6:fd00:66::150:1"));
  EXPECT_FALSE(ParseGrpcPeer("unix:/tmp/sock"));
}

TEST(ApiTypeUrl, TakesNameAfterLastSlash) {
  EXPECT_EQ(TypeNameFromTypeUrl("type.googleapis.com/machine.PhaseEvent"), "machine.PhaseEvent");
  EXPECT_EQ(TypeNameFromTypeUrl("machine.PhaseEvent"), "machine.PhaseEvent");
  EXPECT_EQ(TypeNameFromTypeUrl("a/b/"), "");
}

}  // namespace
}  // namespace metalpxe
