#pragma once
// The packets of the ping-check (address_probe.h), as pure functions: the
// ARP probe we send (RFC 5227 2.1.1) and the ICMP echo request, and what an
// answer from the network says. Answers are untrusted bytes from the wire:
// every reader takes any length and content.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/net_types.h"

namespace metalpxe::dhcp {

// ARP request for `target` from `our_mac` with sender address 0.0.0.0, as
// it follows the Ethernet header (28 bytes).
std::vector<std::uint8_t> EncodeArpProbe(const MacAddress& our_mac, Ipv4Address target);

// The sender address of an ARP packet for IPv4 over Ethernet (a reply to a
// probe, or the holder's own request): the address is in use. nullopt for
// anything else, including another host's probe (sender 0.0.0.0).
std::optional<Ipv4Address> ArpSenderAddress(std::span<const std::uint8_t> packet);

// ICMP echo request (type 8) with identifier `id` and sequence `seq`.
std::vector<std::uint8_t> EncodeEchoRequest(std::uint16_t id, std::uint16_t seq);

// A raw ICMP socket's read (IPv4 header + ICMP): true when it is an echo
// reply (type 0) carrying identifier `id`. Its source is in the IP header.
std::optional<Ipv4Address> EchoReplySource(std::span<const std::uint8_t> packet, std::uint16_t id);

}  // namespace metalpxe::dhcp
