#pragma once
// AppConfig and request builders shared by the DHCP tests.
#include <memory>

#include "core/config.h"
#include "dhcp/message.h"

namespace metalpxe::dhcp::testing {

inline Ipv4Address Ip(const char* s) { return *Ipv4Address::Parse(s); }
inline MacAddress Mac(const char* s) { return *MacAddress::Parse(s); }

// 10.66.0.0/24 served from 10.66.0.1, pool .100-.200, plus a relayed
// 10.77.0.0/24; one known machine with a static address.
inline std::shared_ptr<AppConfig> MakeConfig(DhcpMode mode = DhcpMode::kFull) {
  auto c = std::make_shared<AppConfig>();
  c->server.address = Ip("10.66.0.1");
  c->server.http_port = 8080;
  c->server.tftp_root = "/usr/lib/ipxe";  // Debian's ipxe: undionly.kpxe, snponly.efi (no arm64 build)
  c->dhcp.mode = mode;
  SubnetConfig s;
  s.subnet = *Ipv4Cidr::Parse("10.66.0.0/24");
  s.pool = *Ipv4Range::Parse("10.66.0.100-10.66.0.200");
  s.router = Ip("10.66.0.1");
  s.dns = {Ip("10.66.0.1"), Ip("10.66.0.2")};
  s.lease_time = std::chrono::seconds(3600);
  c->dhcp.subnets.push_back(s);
  SubnetConfig r;
  r.subnet = *Ipv4Cidr::Parse("10.77.0.0/24");
  r.pool = *Ipv4Range::Parse("10.77.0.10-10.77.0.20");
  r.router = Ip("10.77.0.1");
  r.lease_time = std::chrono::seconds(600);
  c->dhcp.subnets.push_back(r);
  c->profiles["default"].name = "default";
  auto inv = std::make_shared<Inventory>();
  MachineConfig m;
  m.name = "cp-1";
  m.profile = "default";
  m.macs = {Mac("52:54:00:00:00:11")};
  m.ip = Ip("10.66.0.11");
  inv->machines.push_back(m);
  MachineConfig k;
  k.name = "w-1";
  k.profile = "default";
  k.macs = {Mac("52:54:00:00:00:22")};
  inv->machines.push_back(k);
  c->inventory = inv;
  return c;
}

inline DhcpMessage Request(MessageType type, const char* mac = "52:54:00:12:34:56", std::uint32_t xid = 42) {
  DhcpMessage m;
  m.op = 1;
  m.xid = xid;
  m.SetMac(Mac(mac));
  m.SetU8(opt::kMessageType, static_cast<std::uint8_t>(type));
  return m;
}

inline void MakePxe(DhcpMessage& m, std::uint16_t arch) {
  char vc[64];
  std::snprintf(vc, sizeof vc, "PXEClient:Arch:%05u:UNDI:003016", arch);
  m.SetString(opt::kVendorClass, vc);
  m.SetU16(opt::kClientArch, arch);
  m.Set(opt::kClientNdi, {1, 3, 16});
}

}  // namespace metalpxe::dhcp::testing
