#include "tests/e2e/installer/event_sink_client.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "api/proto/events/events.grpc.pb.h"
#include "api/proto/machine/machine_events.pb.h"

namespace metalpxe::standin {

struct EventSinkClient::Impl {
  std::unique_ptr<events::EventSinkService::Stub> stub;
  std::string id_prefix;
  int next_id = 0;

  bool Publish(const google::protobuf::Message& payload, const std::string& what) {
    events::EventRequest req;
    req.mutable_data()->PackFrom(payload);  // type URL "type.googleapis.com/machine.<Event>", as Talos
    req.set_id(id_prefix + std::to_string(next_id++));
    events::EventResponse resp;
    grpc::ClientContext ctx;
    // Talos waits for a sink that is not up yet; the stand-in waits a little
    // for the first event only, so a run without a sink is not slowed by it.
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(next_id == 1 ? 5 : 3));
    ctx.set_wait_for_ready(next_id == 1);
    const grpc::Status st = stub->Publish(&ctx, req, &resp);
    std::printf("STANDIN: event %s: %s\n", what.c_str(),
                st.ok() ? "published" : ("failed (" + st.error_message() + ")").c_str());
    std::fflush(stdout);
    return st.ok();
  }
};

EventSinkClient::EventSinkClient(const HostPort& sink) : impl_(std::make_unique<Impl>()) {
  // ipv4: target: no resolver, no /etc/resolv.conf needed in the initramfs.
  const bool v6 = sink.host.find(':') != std::string::npos;
  const std::string target =
      (v6 ? "ipv6:[" + sink.host + "]" : "ipv4:" + sink.host) + ":" + std::to_string(sink.port);
  impl_->stub = events::EventSinkService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  std::random_device rd;
  char prefix[24];
  std::snprintf(prefix, sizeof prefix, "standin-%08x-", rd());
  impl_->id_prefix = prefix;
}

EventSinkClient::~EventSinkClient() = default;

namespace {
void Count(bool ok, int& published, int& failed) { ++(ok ? published : failed); }
}  // namespace

void EventSinkClient::Sequence(const std::string& sequence, SequenceAction action) {
  machine::SequenceEvent e;
  e.set_sequence(sequence);
  e.set_action(static_cast<machine::SequenceEvent::Action>(action));
  Count(impl_->Publish(e, "SequenceEvent " + sequence + " " + machine::SequenceEvent::Action_Name(e.action())),
        published_, failed_);
}

void EventSinkClient::SequenceError(const std::string& sequence, const std::string& message) {
  machine::SequenceEvent e;
  e.set_sequence(sequence);
  e.set_action(machine::SequenceEvent::NOOP);
  e.mutable_error()->set_code(common::FATAL);
  e.mutable_error()->set_message(message);
  Count(impl_->Publish(e, "SequenceEvent " + sequence + " error: " + message), published_, failed_);
}

void EventSinkClient::Phase(const std::string& phase, PhaseAction action) {
  machine::PhaseEvent e;
  e.set_phase(phase);
  e.set_action(static_cast<machine::PhaseEvent::Action>(action));
  Count(impl_->Publish(e, "PhaseEvent " + phase + " " + machine::PhaseEvent::Action_Name(e.action())),
        published_, failed_);
}

void EventSinkClient::Task(const std::string& task, TaskAction action) {
  machine::TaskEvent e;
  e.set_task(task);
  e.set_action(static_cast<machine::TaskEvent::Action>(action));
  Count(impl_->Publish(e, "TaskEvent " + task + " " + machine::TaskEvent::Action_Name(e.action())),
        published_, failed_);
}

void EventSinkClient::MachineStatus(MachineStage stage, bool ready) {
  machine::MachineStatusEvent e;
  e.set_stage(static_cast<machine::MachineStatusEvent::MachineStage>(stage));
  e.mutable_status()->set_ready(ready);
  Count(impl_->Publish(e, "MachineStatusEvent " + machine::MachineStatusEvent::MachineStage_Name(e.stage())),
        published_, failed_);
}

}  // namespace metalpxe::standin
