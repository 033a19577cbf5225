#pragma once
// The DHCPv6 server's decisions (RFC 8415 §18.3), apart from its socket:
// given one parsed client message and where it came from, what to answer.
// The boot file comes from the same per-MAC decision as DHCPv4 (BootPolicy,
// i.e. the provisioning core), asked with IpFamily::kIpv6 so every URL
// carries server.address6 as an IPv6 literal (RFC 5970 option 59).
//
// Modes (dhcp6.mode):
//  - full: addresses from dhcp6.subnets (IA_NA) plus boot options;
//  - proxy: boot options only. Advertise/Reply carry no IA_NA address (the
//    network's own DHCPv6 server or SLAAC addresses the machine), and
//    Information-request (stateless DHCPv6, RA "O" flag) is answered too.
// Router advertisements are never sent: the router owns them.
//
// Leases are kept in memory only (bounded: one binding per client, keyed by
// its MAC when one can be read, else its DUID; at most the pool's size). A
// restart loses them; a client's Renew/Rebind of a free address in the pool
// re-creates its binding (RFC 8415 §18.3.4), so bound clients keep their
// addresses. Only the client that holds a binding can release or decline it:
// nothing a client sends evicts another client's lease. Not thread-safe.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "dhcp/boot_policy.h"
#include "dhcp/v6/message6.h"

namespace metalpxe::dhcp6 {

struct Inbound6 {
  Message6 msg;
  Ipv6Address source;                      // the client's link-local address
  std::vector<Ipv6Address> local_addresses;  // of the receiving interface: picks the subnet
};

struct Observation6 {
  std::optional<MacAddress> mac;
  BootClient client;
  std::string vendor_class;
  std::string uuid;
  MsgType received = MsgType::kSolicit;
  std::optional<MsgType> replied;
  std::optional<Ipv6Address> address;  // offered or bound
  bool bound = false;                  // `address` is now bound to this client (Reply to Request/Renew/Rebind)
  std::int64_t valid_until = 0;        // bound: until then (unix seconds)
  std::optional<Ipv6Address> released;  // the client gave this binding up (Release/Decline)
  std::string boot_file;
  std::string why;  // for logs and the machine's history
};

struct Decision6 {
  std::optional<Message6> reply;  // to the source, port 546
  Observation6 observation;
};

class Dhcp6Responder {
 public:
  static constexpr std::int64_t kDeclineQuarantineSeconds = 600;

  // `server_duid` is this server's identifier (DUID-LL of the interface).
  Dhcp6Responder(std::shared_ptr<const AppConfig> config, dhcp::BootPolicy policy,
                 std::vector<std::uint8_t> server_duid);

  void UpdateConfig(std::shared_ptr<const AppConfig> config) { config_ = std::move(config); }
  Decision6 Handle(const Inbound6& in, std::int64_t now);

  struct Binding {
    Ipv6Address address;
    std::vector<std::uint8_t> duid;
    std::uint32_t iaid = 0;
    std::int64_t expires = 0;
    bool declined = false;  // quarantined until `expires`; owned by nobody
  };
  // Client key ("mac:..." or "duid:...") -> binding; for tests and status.
  const std::map<std::string, Binding>& bindings() const { return bindings_; }
  const std::vector<std::uint8_t>& server_duid() const { return server_duid_; }

 private:
  const Subnet6Config* SubnetFor(const Inbound6& in) const;
  // The client's address: its own binding's, else the requested one when
  // free, else the first free one from a point that depends on the key.
  std::optional<Ipv6Address> Choose(const Subnet6Config& subnet, const std::string& key,
                                    const std::vector<Ipv6Address>& wanted, std::int64_t now) const;
  bool FreeFor(const Ipv6Address& a, const std::string& key, std::int64_t now) const;
  void Bind(const std::string& key, const Ipv6Address& a, const Message6& req, std::uint32_t iaid,
            std::int64_t expires);
  Message6 BaseReply(const Message6& req, MsgType type) const;
  void AddBootAndInfo(Message6& reply, Observation6& obs, const std::optional<MacAddress>& mac,
                      const Subnet6Config* subnet);

  std::shared_ptr<const AppConfig> config_;
  dhcp::BootPolicy policy_;
  std::vector<std::uint8_t> server_duid_;
  std::map<std::string, Binding> bindings_;
  std::map<Ipv6Address, std::string> by_address_;  // address -> key (live and declined)
};

// Which MAC a DHCPv6 client has: DUID-LL/LLT, else the EUI-64 link-local source.
std::optional<MacAddress> ClientMac6(const Message6& msg, const Ipv6Address& source);
// Who is asking: option 61, vendor class 16 (enterprise 343), user class "iPXE".
BootClient ClassifyClient6(const Message6& msg);

}  // namespace metalpxe::dhcp6
