// metalpxe-talos-event-publish HOST:PORT KIND [ERROR]
// Publishes one Talos-shaped event to an event sink, as a Talos node does:
// KIND is config-load-error | sequence-error | install-start | install-done
// (the install sequence ending without error). Used by the appliance tests
// to drive failure paths, and the IPv6 install, from inside a client
// namespace. HOST may be an IPv6 literal: [fd00:66::1]:50101.
#include <cstdio>
#include <string>

#include <grpcpp/grpcpp.h>

#include "api/proto/events/events.grpc.pb.h"
#include "api/proto/machine/machine_events.pb.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s HOST:PORT config-load-error|sequence-error|install-start|install-done [ERROR]\n", argv[0]);
    return 2;
  }
  const std::string kind = argv[2];
  const std::string error = argc > 3 ? argv[3] : "failed to load config: yaml: line 3: mapping values are not allowed";
  events::EventRequest req;
  req.set_id("cu0pd5hmitest");
  if (kind == "config-load-error") {
    machine::ConfigLoadErrorEvent ev;
    ev.set_error(error);
    req.mutable_data()->PackFrom(ev);
  } else if (kind == "sequence-error") {
    machine::SequenceEvent ev;
    ev.set_sequence("install");
    ev.set_action(machine::SequenceEvent::STOP);
    ev.mutable_error()->set_message(error);
    ev.mutable_error()->set_code(common::FATAL);
    req.mutable_data()->PackFrom(ev);
  } else if (kind == "install-done") {
    machine::SequenceEvent ev;
    ev.set_sequence("install");
    ev.set_action(machine::SequenceEvent::STOP);
    req.mutable_data()->PackFrom(ev);
  } else if (kind == "install-start") {
    machine::PhaseEvent ev;
    ev.set_phase("install");
    ev.set_action(machine::PhaseEvent::START);
    req.mutable_data()->PackFrom(ev);
  } else {
    std::fprintf(stderr, "unknown kind %s\n", kind.c_str());
    return 2;
  }
  auto channel = grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials());
  auto stub = events::EventSinkService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  events::EventResponse resp;
  const grpc::Status st = stub->Publish(&ctx, req, &resp);
  if (!st.ok()) {
    std::fprintf(stderr, "publish failed: %s\n", st.error_message().c_str());
    return 1;
  }
  return 0;
}
