#include "dhcp/classify.h"

#include <cstdio>

namespace metalpxe::dhcp {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// iPXE sends 77 as the bare string "iPXE"; RFC 3004 clients send
// length-prefixed entries. Accept either form.
bool UserClassSaysIpxe(const DhcpMessage& msg) {
  const auto* o = msg.Find(opt::kUserClass);
  if (o == nullptr) return false;
  const std::string_view raw(reinterpret_cast<const char*>(o->data.data()), o->data.size());
  if (raw == "iPXE") return true;
  std::size_t i = 0;
  while (i < o->data.size()) {
    const std::size_t len = o->data[i];
    if (len == 0 || i + 1 + len > o->data.size()) return false;
    if (raw.substr(i + 1, len) == "iPXE") return true;
    i += 1 + len;
  }
  return false;
}

std::string UuidText(const DhcpMessage& msg) {
  const auto* o = msg.Find(opt::kClientMachineId);
  if (o == nullptr || o->data.size() != 17 || o->data[0] != 0) return "";
  const auto* u = o->data.data() + 1;
  char buf[37];
  std::snprintf(buf, sizeof buf, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
  return buf;
}

}  // namespace

std::string_view ClientKindName(ClientKind k) {
  switch (k) {
    case ClientKind::kNotPxe: return "dhcp";
    case ClientKind::kBiosPxe: return "bios";
    case ClientKind::kUefiX64: return "uefi-x64";
    case ClientKind::kUefiArm64: return "uefi-arm64";
    case ClientKind::kUefiHttp: return "uefi-http";
    case ClientKind::kIpxe: return "ipxe";
  }
  return "?";
}

ClientInfo ClassifyClient(const DhcpMessage& msg) {
  ClientInfo info;
  if (auto vc = msg.GetString(opt::kVendorClass)) info.vendor_class = std::string(*vc);
  auto arches = msg.GetU16Array(opt::kClientArch);
  if (!arches.empty()) info.arch = arches.front();
  info.uuid = UuidText(msg);
  info.is_ipxe = UserClassSaysIpxe(msg) || msg.Has(opt::kIpxeEncap);
  info.arm64 = info.arch && (*info.arch == 11 || *info.arch == 19);

  const bool pxe_vendor = StartsWith(info.vendor_class, "PXEClient");
  const bool http_vendor = StartsWith(info.vendor_class, "HTTPClient");
  if (info.is_ipxe) {
    info.kind = ClientKind::kIpxe;
  } else if (info.arch && (*info.arch == 16 || *info.arch == 19) && (http_vendor || !pxe_vendor)) {
    info.kind = ClientKind::kUefiHttp;
  } else if (info.arch && (pxe_vendor || http_vendor)) {
    switch (*info.arch) {
      case 0: info.kind = ClientKind::kBiosPxe; break;
      case 6:  // IA32 UEFI: served like x64 (snponly.efi), the closest file we ship
      case 7:
      case 9: info.kind = ClientKind::kUefiX64; break;
      case 11: info.kind = ClientKind::kUefiArm64; break;
      default: info.kind = ClientKind::kNotPxe; break;
    }
  } else if (pxe_vendor) {
    info.kind = ClientKind::kBiosPxe;  // PXEClient without 93: old BIOS ROMs
  } else if (http_vendor) {
    info.kind = ClientKind::kUefiHttp;
  }
  return info;
}

std::optional<BootAnswer> ChooseBootFile(const ClientInfo& info, const AppConfig& config, bool known_machine,
                                         const std::function<bool(std::string_view)>& file_exists) {
  if (info.kind == ClientKind::kNotPxe) return std::nullopt;
  if (!known_machine && config.boot.unknown_machines == UnknownMachinePolicy::kIgnore) return std::nullopt;
  const std::string base =
      "http://" + config.server.address.ToString() + ":" + std::to_string(config.server.http_port);
  BootAnswer a;
  switch (info.kind) {
    case ClientKind::kIpxe: a.boot_file = base + "/boot.ipxe"; break;
    case ClientKind::kBiosPxe: a.boot_file = "undionly.kpxe"; break;
    case ClientKind::kUefiX64: a.boot_file = "snponly.efi"; break;
    case ClientKind::kUefiArm64:
      a.boot_file = file_exists(kArm64BootFile) ? std::string(kArm64BootFile) : "snponly.efi";
      break;
    case ClientKind::kUefiHttp:
      a.http_client = true;
      a.boot_file = base + "/assets/" +
                    std::string(info.arm64 && file_exists(kArm64BootFile) ? kArm64BootFile : "snponly.efi");
      break;
    case ClientKind::kNotPxe: return std::nullopt;
  }
  return a;
}

}  // namespace metalpxe::dhcp
