#pragma once
// PXE client classification: which firmware is asking (RFC 4578 option 93,
// option 60 "PXEClient"/"HTTPClient", iPXE's user class 77 / option 175) and
// which boot file it gets. Pure functions over a parsed message and config.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/config.h"
#include "dhcp/message.h"

namespace metalpxe::dhcp {

enum class ClientKind {
  kNotPxe,     // plain DHCP client (an OS, the installer)
  kBiosPxe,    // arch 0
  kUefiX64,    // arch 7, 9
  kUefiArm64,  // arch 11
  kUefiHttp,   // arch 16 (x64) or 19 (arm64) HTTP boot
  kIpxe,       // iPXE itself, whatever the platform
};
std::string_view ClientKindName(ClientKind k);

struct ClientInfo {
  ClientKind kind = ClientKind::kNotPxe;
  std::optional<std::uint16_t> arch;  // first option 93 value
  bool is_ipxe = false;
  bool arm64 = false;
  std::string vendor_class;  // option 60 as sent
  std::string uuid;          // option 97 as 8-4-4-4-12 text, "" when absent
};

ClientInfo ClassifyClient(const DhcpMessage& msg);

// The boot answer for a PXE-ish client. `boot_file` empty = no boot file.
struct BootAnswer {
  std::string boot_file;
  bool http_client = false;  // reply with option 60 "HTTPClient"
};

// Arm64 UEFI iPXE binary, looked for in tftpRoot.
inline constexpr std::string_view kArm64BootFile = "arm64/snponly.efi";

// `file_exists(name)` asks whether tftpRoot holds `name` (I/O kept outside).
// nullopt: the client is not a boot client, or the machine is unknown and the
// policy is `ignore`.
std::optional<BootAnswer> ChooseBootFile(const ClientInfo& info, const AppConfig& config, bool known_machine,
                                         const std::function<bool(std::string_view)>& file_exists);

}  // namespace metalpxe::dhcp
