#pragma once
// The DHCP server's decisions, apart from its sockets: given one parsed
// request (and where it came from) it answers what to send, where, and which
// lease records must be durable first. RFC 2131 state rules for full mode,
// PXE/HTTP-boot answers, proxyDHCP (port 67 offers without an address, port
// 4011 boot-server ACKs). Not thread-safe; the server serialises calls.
#include <cstdint>
#include <memory>
#include <optional>
#include <functional>
#include <vector>

#include "core/config.h"
#include "core/provisioning/boot_files.h"
#include "core/store.h"
#include "dhcp/boot_policy.h"
#include "dhcp/classify.h"
#include "dhcp/lease_table.h"
#include "dhcp/message.h"
#include "dhcp/observation.h"

namespace metalpxe::dhcp {

inline constexpr std::uint16_t kServerPort = 67;
inline constexpr std::uint16_t kClientPort = 68;
inline constexpr std::uint16_t kBootServerPort = 4011;

struct Inbound {
  DhcpMessage msg;
  Ipv4Address source;
  std::uint16_t source_port = kClientPort;
  int ifindex = 0;
  std::vector<Ipv4Address> local_addresses;  // of the receiving interface
  bool boot_server_port = false;              // arrived on 4011
};

struct Outbound {
  DhcpMessage msg;
  Ipv4Address dest;
  std::uint16_t port = kClientPort;
  int ifindex = 0;
  // Unicast to a client that has no address yet: the sender must first make
  // `dest` resolve to the client's chaddr (ARP entry or packet socket).
  bool to_unconfigured_client = false;
};

enum class Verdict { kReply, kNoReply, kIgnored, kNoPool };


// An offer that may leave only once nobody answered a probe of its address.
struct ProbeRequest {
  Ipv4Address ip;
  bool on_link = false;  // the pool's subnet is on the receiving interface: ARP; else ICMP echo
};

// Whether the server can ping-check an address now (see address_probe.h).
enum class ProbeRoom { kOff, kAvailable, kFull };

struct Decision {
  Verdict verdict = Verdict::kIgnored;
  std::optional<Outbound> reply;
  std::vector<LeaseRecord> writes;  // must be durable before `reply` leaves
  std::optional<ProbeRequest> probe;  // `reply` waits for this probe
  bool probe_skipped = false;         // an unbound address offered without a probe: no room
  std::optional<DhcpObservation> observation;  // of the request
};

class DhcpResponder {
 public:
  static constexpr std::int64_t kOfferHoldSeconds = 60;
  static constexpr std::int64_t kDeclineQuarantineSeconds = 600;

  // Pools come from config.dhcp.subnets; `leases` are what the store holds.
  DhcpResponder(std::shared_ptr<const AppConfig> config, const std::vector<LeaseRecord>& leases, BootPolicy policy);

  // Picks up a new config snapshot (inventory reload: reservations, known
  // MACs). Subnet changes need a restart.
  void UpdateConfig(std::shared_ptr<const AppConfig> config);

  Decision Handle(const Inbound& in, std::int64_t now);

  // Ping-check: whether the next Handle may ask for a probe.
  void SetProbeRoom(ProbeRoom room) { probe_room_ = room; }
  // The probe of `ip`, offered to `mac`, was answered (`in_use`) or timed
  // out. Returns true when the held offer may leave now; when in use the
  // address is quarantined and the caller may Handle the DISCOVER again.
  bool ProbeAnswered(const MacAddress& mac, Ipv4Address ip, bool in_use, std::int64_t now);

  const LeaseTable& leases() const { return table_; }
  // The served subnet `in` belongs to (the pool Handle would pick), for
  // deciding who answers (core/dhcp_leadership.h); nullopt when none.
  std::optional<Ipv4Cidr> SubnetOf(const Inbound& in) const;

 private:
  Decision HandleFull(const Inbound& in, const ClientInfo& info, MessageType type, std::int64_t now);
  Decision HandleProxy(const Inbound& in, const ClientInfo& info, MessageType type);
  Decision HandleBootServer(const Inbound& in, const ClientInfo& info, MessageType type);
  std::optional<std::size_t> ChoosePool(const Inbound& in) const;
  std::optional<LoaderAnswer> BootFor(const DhcpMessage& req, const ClientInfo& info);
  DhcpMessage BaseReply(const DhcpMessage& req, MessageType type) const;
  void AddSubnetOptions(DhcpMessage& reply, const SubnetConfig& subnet, bool with_lease) const;
  void AddBootOptions(DhcpMessage& reply, const ClientInfo& info, const LoaderAnswer& boot) const;
  void Finish(DhcpMessage& reply, const DhcpMessage& req) const;
  Outbound Address(const Inbound& in, DhcpMessage reply, bool nak) const;
  Decision Nak(const Inbound& in, const char* why);

  std::shared_ptr<const AppConfig> config_;
  LeaseTable table_;
  BootPolicy policy_;
  LoaderChoice last_boot_;  // of the request being handled, for its observation
  ProbeRoom probe_room_ = ProbeRoom::kOff;
};

std::vector<LeasePool> PoolsFromConfig(const AppConfig& config);

}  // namespace metalpxe::dhcp
