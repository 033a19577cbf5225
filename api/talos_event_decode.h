#pragma once
// Pure decoding for the Talos event sink: the EventRequest's Any payload into
// a TalosEvent, and the gRPC peer string into an IPv4 address. No I/O.
#include <optional>
#include <string_view>

#include "core/talos_event.h"
#include "core/net_types.h"
#include "core/result.h"

namespace events {
class EventRequest;
}

namespace metalpxe {

// Unknown payload types decode successfully with known_type=false and only
// the envelope (id, actor_id, type) set. A missing payload, a type URL with no
// message name, or a known type whose bytes do not parse is kInvalidArgument.
Result<TalosEvent> DecodeTalosEvent(const events::EventRequest& request, Ipv4Address peer);

// The message name of an Any type URL: everything after the last '/'
// ("type.googleapis.com/machine.SequenceEvent" -> "machine.SequenceEvent").
std::string_view TypeNameFromTypeUrl(std::string_view type_url);

// gRPC's ServerContext::peer(): "ipv4:10.0.0.5:4711", "ipv6:[fd00:66::5]:4711"
// (a zone is dropped), "ipv6:[::ffff:10.0.0.5]:4711" (IPv4). Anything else
// (unix sockets, no port) -> nullopt.
std::optional<IpAddress> ParseGrpcPeer(std::string_view peer);

// The same, IPv4 only: "ipv4:10.0.0.5:4711", "ipv6:[::ffff:10.0.0.5]:4711"
// (IPv4-mapped IPv6). Anything else (real IPv6, unix sockets) -> nullopt.
std::optional<Ipv4Address> ParseGrpcPeerIpv4(std::string_view peer);

}  // namespace metalpxe
