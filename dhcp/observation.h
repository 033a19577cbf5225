#pragma once
// What the DHCP server tells the daemon about each client it hears from, and
// the counters it keeps (for /metrics). Plain data, no dependencies on I/O.
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/boot_client.h"
#include "core/net_types.h"
#include "dhcp/message.h"

namespace metalpxe::dhcp {

struct DhcpObservation {
  MacAddress mac;
  Ipv4Address leased_ip;               // unspecified when the MAC holds no lease
  std::string vendor_class;            // option 60
  BootClient client;                   // who asked (core's vocabulary)
  std::string boot_file;               // what the answer named, "" for none
  std::string boot_why;                // why that boot file, or why none
  std::string uuid;                    // option 97 as text, "" when absent
  MessageType message_type = MessageType::kDiscover;  // received, or kAck when a lease was granted
  std::optional<MessageType> reply_type;  // what the answer is, nullopt for none
  Ipv4Address offered;                    // the answer's yiaddr (unspecified in proxy answers)
  bool proxy = false;                     // a proxyDHCP or boot-server answer (no address)
};

using DhcpObserver = std::function<void(const DhcpObservation&)>;

struct DhcpStats {
  // Indexed by MessageType value (1..8); [0] unused.
  std::array<std::uint64_t, 9> received{};
  std::array<std::uint64_t, 9> sent{};
  std::uint64_t dropped_malformed = 0;   // failed to parse
  std::uint64_t dropped_ignored = 0;     // valid but not for us (other server, non-PXE in proxy mode, ...)
  std::uint64_t dropped_no_pool = 0;     // no subnet for the client, or the pool is exhausted
  std::uint64_t naks = 0;
  std::uint64_t store_failures = 0;      // a lease could not be made durable: no ACK sent
  std::uint64_t send_errors = 0;
  // Ping-check (address_probe.h): probes sent, addresses found in use (and
  // skipped), unbound addresses offered without a probe because the probe
  // budget was spent (a flood), the most probes outstanding at once, and
  // DISCOVERs left unanswered after every probed address was in use.
  std::uint64_t probes_sent = 0;
  std::uint64_t probes_in_use = 0;
  std::uint64_t probes_skipped = 0;
  std::uint64_t probes_max_in_flight = 0;
  std::uint64_t dropped_probe_conflicts = 0;
  // A lost store (lease writes fail): no new leases, renewals of stored
  // leases answered without a write for the time the store already holds.
  bool store_writable = true;
  std::int64_t store_lost_since_unix = 0;  // when writes started failing
  std::string store_error;                 // the last write error
  std::uint64_t dropped_store_lost = 0;    // DISCOVERs/REQUESTs not answered: no lease could be stored
  std::uint64_t renewals_unstored = 0;     // renewals ACKed without a write while the store was lost
  // Several appliances on one store (core/dhcp_leadership.h): requests left
  // to the subnet's leader, requests held back while a new leader reads the
  // stored leases, and those reads (taking over, or after a grant the store
  // refused because another appliance holds the address).
  std::uint64_t dropped_standby = 0;
  std::uint64_t dropped_taking_over = 0;
  std::uint64_t lease_reloads = 0;
  std::uint64_t leases = 0;              // entries in the lease table
};

}  // namespace metalpxe::dhcp
