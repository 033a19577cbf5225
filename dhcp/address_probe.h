#pragma once
// Ping-check: before offering an address nobody holds a lease for, ask the
// network whether a host already uses it (RFC 2131 4.4.1 "SHOULD probe", as
// dnsmasq and Kea's ping_check do). On a link the server is attached to, an
// ARP probe (RFC 5227: sender address 0.0.0.0, so nobody's ARP cache learns
// anything, and no neighbour entry is created in our kernel for an address
// that may not exist); for a relayed subnet, one ICMP echo request.
//
// Probes run on the io_context (no thread blocks) and are bounded, because
// DISCOVERs are unauthenticated: at most `max_in_flight` at once, each ends
// after `timeout`. The caller (the DHCP server) asks HasRoom() first and
// offers without a probe when there is none (counted), so a flood of
// DISCOVERs from random MACs can neither queue up probes without end nor
// hold back the offers of other clients.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "core/net_types.h"
#include "core/result.h"

namespace metalpxe::dhcp {

struct AddressProbeOptions {
  std::size_t max_in_flight = 64;
  // Long enough for an ARP reply on a LAN or an echo reply over a relay
  // (Kea's ping_check default is 100 ms); short enough that a client waits
  // only this long for its first offer.
  std::chrono::milliseconds timeout{250};
};

struct AddressProbeStats {
  std::uint64_t sent = 0;             // ARP probes and echo requests sent
  std::uint64_t in_use = 0;           // answered: the address is taken
  std::uint64_t send_errors = 0;      // could not be sent (counted as free)
  std::uint64_t max_in_flight = 0;    // most probes outstanding at once
};

class AddressProber {
 public:
  using Done = std::function<void(bool in_use)>;

  AddressProber(boost::asio::io_context& io, AddressProbeOptions options);
  ~AddressProber();
  AddressProber(const AddressProber&) = delete;
  AddressProber& operator=(const AddressProber&) = delete;

  // Opens the packet (ARP) and raw ICMP sockets in the calling thread's
  // network namespace. Needs CAP_NET_RAW; without it the prober stays off
  // and says why (the server then offers without probing, as before).
  Status Open();
  void Close();
  bool enabled() const;

  // Whether another probe may start now.
  bool HasRoom() const;
  // Probes `ip`: by ARP on interface `ifindex` when `on_link`, else by ICMP
  // echo. `done` runs once, on the io_context, with the answer (false when
  // nothing answered within the timeout, or the probe could not be sent).
  // Call only when HasRoom(); a probe of an address already being probed
  // joins it.
  void Probe(Ipv4Address ip, int ifindex, bool on_link, Done done);

  std::size_t in_flight() const;
  AddressProbeStats Stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace metalpxe::dhcp
