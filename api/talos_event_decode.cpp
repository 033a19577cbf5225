#include "api/talos_event_decode.h"

#include <string>

#include "api/proto/events/events.pb.h"
#include "api/proto/machine/machine_events.pb.h"

namespace metalpxe {
namespace {

// Parses the Any's bytes as message M; false on malformed wire data.
template <typename M>
bool ParsePayload(const google::protobuf::Any& any, M& out) {
  return out.ParseFromString(any.value());
}

Status Malformed(const std::string& type) {
  return Status(ErrorCode::kInvalidArgument, "malformed " + type + " payload");
}

Status DecodeKnown(const google::protobuf::Any& any, TalosEvent& ev) {
  const std::string& t = ev.type;
  if (t == kTalosSequenceEvent) {
    machine::SequenceEvent m;
    if (!ParsePayload(any, m)) return Malformed(t);
    ev.name = m.sequence();
    ev.action = machine::SequenceEvent_Action_Name(m.action());
    if (m.has_error()) {
      ev.error = m.error().message();
      ev.error_code = common::Code_Name(m.error().code());
    }
  } else if (t == kTalosPhaseEvent) {
    machine::PhaseEvent m;
    if (!ParsePayload(any, m)) return Malformed(t);
    ev.name = m.phase();
    ev.action = machine::PhaseEvent_Action_Name(m.action());
  } else if (t == kTalosTaskEvent) {
    machine::TaskEvent m;
    if (!ParsePayload(any, m)) return Malformed(t);
    ev.name = m.task();
    ev.action = machine::TaskEvent_Action_Name(m.action());
  } else if (t == kTalosServiceStateEvent) {
    machine::ServiceStateEvent m;
    if (!ParsePayload(any, m)) return Malformed(t);
    ev.name = m.service();
    ev.action = machine::ServiceStateEvent_Action_Name(m.action());
    ev.message = m.message();
  } else if (t == kTalosRestartEvent) {
    machine::RestartEvent m;
    if (!ParsePayload(any, m)) return Malformed(t);
    ev.restart_cmd = m.cmd();
  } else if (t == kTalosConfigLoadErrorEvent) {
    machine::ConfigLoadErrorEvent m;
    if (!ParsePayload(any, m)) return Malformed(t);
    ev.error = m.error();
  } else if (t == kTalosConfigValidationErrorEvent) {
    machine::ConfigValidationErrorEvent m;
    if (!ParsePayload(any, m)) return Malformed(t);
    ev.error = m.error();
  } else if (t == kTalosAddressEvent) {
    machine::AddressEvent m;
    if (!ParsePayload(any, m)) return Malformed(t);
    ev.hostname = m.hostname();
    ev.addresses.assign(m.addresses().begin(), m.addresses().end());
  } else if (t == kTalosMachineStatusEvent) {
    machine::MachineStatusEvent m;
    if (!ParsePayload(any, m)) return Malformed(t);
    ev.stage = machine::MachineStatusEvent_MachineStage_Name(m.stage());
    ev.ready = m.status().ready();
    for (const auto& c : m.status().unmet_conditions()) ev.unmet_conditions.emplace_back(c.name(), c.reason());
  } else {
    return Status::Ok();  // unknown type: envelope only
  }
  ev.known_type = true;
  return Status::Ok();
}

}  // namespace

std::string_view TypeNameFromTypeUrl(std::string_view type_url) {
  auto slash = type_url.rfind('/');
  return slash == std::string_view::npos ? type_url : type_url.substr(slash + 1);
}

Result<TalosEvent> DecodeTalosEvent(const events::EventRequest& request, Ipv4Address peer) {
  if (!request.has_data()) return Status(ErrorCode::kInvalidArgument, "event has no payload");
  const auto& any = request.data();
  std::string_view type = TypeNameFromTypeUrl(any.type_url());
  if (type.empty()) return Status(ErrorCode::kInvalidArgument, "event payload has no type");

  TalosEvent ev;
  ev.peer = peer;
  ev.id = request.id();
  ev.actor_id = request.actor_id();
  ev.type = std::string(type);
  if (Status s = DecodeKnown(any, ev); !s.ok()) return s;
  return ev;
}

std::optional<IpAddress> ParseGrpcPeer(std::string_view peer) {
  auto strip_port = [](std::string_view hostport) -> std::optional<std::string_view> {
    auto colon = hostport.rfind(':');
    if (colon == std::string_view::npos || colon + 1 == hostport.size()) return std::nullopt;
    for (char c : hostport.substr(colon + 1))
      if (c < '0' || c > '9') return std::nullopt;
    return hostport.substr(0, colon);
  };

  if (peer.starts_with("ipv4:")) {
    auto host = strip_port(peer.substr(5));
    if (!host) return std::nullopt;
    auto a = Ipv4Address::Parse(*host);
    if (!a) return std::nullopt;
    return IpAddress(*a);
  }
  if (peer.starts_with("ipv6:")) {
    auto host = strip_port(peer.substr(5));
    if (!host) return std::nullopt;
    std::string_view h = *host;
    // gRPC writes the brackets either literally or percent-encoded.
    if (h.starts_with("[") && h.ends_with("]")) {
      h = h.substr(1, h.size() - 2);
    } else if (h.starts_with("%5B") && h.ends_with("%5D")) {
      h = h.substr(3, h.size() - 6);
    } else {
      return std::nullopt;
    }
    // A link-local peer carries its zone ("fe80::1%25eth0"): the address is what names the machine.
    h = h.substr(0, h.find('%'));
    auto a = Ipv6Address::Parse(h);
    if (!a) return std::nullopt;
    return IpAddress(*a);
  }
  return std::nullopt;
}

std::optional<Ipv4Address> ParseGrpcPeerIpv4(std::string_view peer) {
  auto p = ParseGrpcPeer(peer);
  return p ? p->v4() : std::nullopt;
}

}  // namespace metalpxe
