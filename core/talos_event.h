#pragma once
// One event Talos published to our event sink, decoded from the protobuf Any
// into plain data so nothing outside api/ needs the generated protobuf types.
// Enum values keep Talos's own names ("START", "STOP", "INSTALLING", ...).
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/net_types.h"

namespace metalpxe {

// Fully-qualified protobuf names of the payloads Talos sends
// (type URL "type.googleapis.com/<name>").
inline constexpr const char* kTalosSequenceEvent = "machine.SequenceEvent";
inline constexpr const char* kTalosPhaseEvent = "machine.PhaseEvent";
inline constexpr const char* kTalosTaskEvent = "machine.TaskEvent";
inline constexpr const char* kTalosServiceStateEvent = "machine.ServiceStateEvent";
inline constexpr const char* kTalosRestartEvent = "machine.RestartEvent";
inline constexpr const char* kTalosConfigLoadErrorEvent = "machine.ConfigLoadErrorEvent";
inline constexpr const char* kTalosConfigValidationErrorEvent = "machine.ConfigValidationErrorEvent";
inline constexpr const char* kTalosAddressEvent = "machine.AddressEvent";
inline constexpr const char* kTalosMachineStatusEvent = "machine.MachineStatusEvent";

struct TalosEvent {
  Ipv4Address peer;      // who sent it (the machine), from the gRPC peer address; unspecified over IPv6
  std::optional<Ipv6Address> peer6;  // set when it came over IPv6 (then `peer` is unspecified)
  std::string id;        // Talos's event id (xid)
  std::string actor_id;  // Talos's actor id (set for API-triggered sequences)
  std::string type;      // e.g. "machine.SequenceEvent"; set even when unknown
  bool known_type = false;

  // Decoded fields; which are set depends on `type`.
  std::string name;        // sequence / phase / task / service name
  std::string action;      // Action enum value name: "START", "STOP", "NOOP", "RUNNING", ...
  std::string error;       // SequenceEvent error message; Config*ErrorEvent error
  std::string error_code;  // SequenceEvent error code: "FATAL", "LOCKED", "CANCELED"
  std::string message;     // ServiceStateEvent message
  std::string stage;       // MachineStatusEvent stage: "BOOTING", "INSTALLING", "RUNNING", ...
  bool ready = false;      // MachineStatusEvent status.ready
  std::vector<std::pair<std::string, std::string>> unmet_conditions;  // (name, reason)
  std::string hostname;                // AddressEvent
  std::vector<std::string> addresses;  // AddressEvent
  std::optional<std::int64_t> restart_cmd;  // RestartEvent cmd (unix.Reboot argument)
};

}  // namespace metalpxe
