// libFuzzer target: an EventRequest off the wire through the Talos event
// decoder and the install-signal interpretation, plus the gRPC peer parser.
#include <cstddef>
#include <cstdint>
#include <string>

#include <google/protobuf/stubs/logging.h>

#include "api/proto/events/events.pb.h"
#include "api/talos_event_decode.h"
#include "core/provisioning/talos_install_signal.h"

// Protobuf logs every invalid UTF-8 string it rejects; keep the fuzzer quiet.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  (void)metalpxe::ParseGrpcPeerIpv4(bytes);
  (void)metalpxe::ParseGrpcPeer(bytes);
  events::EventRequest req;
  if (!req.ParseFromString(bytes)) return 0;
  auto ev = metalpxe::DecodeTalosEvent(req, metalpxe::Ipv4Address::FromOctets(10, 0, 0, 1));
  if (ev.ok()) {
    (void)metalpxe::InterpretTalosEvent(*ev, false);
    (void)metalpxe::InterpretTalosEvent(*ev, true);
  }
  return 0;
}
