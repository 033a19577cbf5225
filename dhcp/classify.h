#pragma once
// Who is asking, from a DHCP request: the options a network-booting client
// sends (RFC 4578 option 93, option 60 "PXEClient"/"HTTPClient", iPXE's user
// class 77 or option 175, option 97's UUID) read into core's BootClient
// vocabulary. Pure functions over a parsed message; which boot file a client
// gets is core's decision (core/provisioning/boot_files.h).
#include <cstdint>
#include <optional>
#include <string>

#include "core/boot_client.h"
#include "dhcp/message.h"

namespace metalpxe::dhcp {

struct ClientInfo {
  BootClient client;
  std::optional<std::uint16_t> arch;  // first option 93 value, as sent
  std::string vendor_class;           // option 60 as sent
  std::string uuid;                   // option 97 as 8-4-4-4-12 text, "" when absent
};

ClientInfo ClassifyClient(const DhcpMessage& msg);

}  // namespace metalpxe::dhcp
