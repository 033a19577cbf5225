#include "dhcp/classify.h"

#include <cstdio>

namespace metalpxe::dhcp {
namespace {

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

ClientInfo ClassifyClient(const DhcpMessage& msg) {
  ClientInfo info;
  if (auto vc = msg.GetString(opt::kVendorClass)) info.vendor_class = std::string(*vc);
  auto arches = msg.GetU16Array(opt::kClientArch);
  if (!arches.empty()) info.arch = arches.front();
  info.uuid = UuidText(msg);
  const bool ipxe = UserClassSaysIpxe(msg) || msg.Has(opt::kIpxeEncap);
  info.client = BootClientFromDhcp(info.arch, info.vendor_class, ipxe);
  return info;
}

}  // namespace metalpxe::dhcp
