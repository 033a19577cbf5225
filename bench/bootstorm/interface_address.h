#pragma once
// Puts an address a simulated machine got from DHCP on the client's
// interface (rtnetlink), so its TFTP and HTTP traffic comes from its own
// address, as a real machine's would: the servers key transfers, tokens and
// per-address limits by it. Added only after the ACK, so the server's
// ping-check (ARP or ICMP) before the offer finds the address free.
#include <netinet/in.h>

#include <string>

namespace metalpxe::bench {

class InterfaceAddresses {
 public:
  explicit InterfaceAddresses(const std::string& interface);
  ~InterfaceAddresses();
  InterfaceAddresses(const InterfaceAddresses&) = delete;
  InterfaceAddresses& operator=(const InterfaceAddresses&) = delete;

  bool ok() const { return fd_ >= 0 && ifindex_ != 0; }
  // Adds `address` (network order) as a /32; "" on success (or when it is
  // already there), else why not.
  std::string Add(in_addr_t address);

 private:
  int fd_ = -1;
  unsigned ifindex_ = 0;
  unsigned seq_ = 0;
};

}  // namespace metalpxe::bench
