// libFuzzer target for the DHCP server's decisions: any parsable request,
// arriving on 67 or 4011, relayed or not, must get a decision without
// crashing, and every reply it decides on must encode.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "dhcp/responder.h"

using namespace metalpxe;
using namespace metalpxe::dhcp;

namespace {

std::shared_ptr<AppConfig> Config(DhcpMode mode) {
  auto c = std::make_shared<AppConfig>();
  c->server.address = *Ipv4Address::Parse("10.66.0.1");
  c->dhcp.mode = mode;
  SubnetConfig s;
  s.subnet = *Ipv4Cidr::Parse("10.66.0.0/24");
  s.pool = *Ipv4Range::Parse("10.66.0.100-10.66.0.110");
  s.router = c->server.address;
  c->dhcp.subnets.push_back(s);
  auto inv = std::make_shared<Inventory>();
  MachineConfig m;
  m.macs = {*MacAddress::Parse("52:54:00:00:00:11")};
  m.ip = *Ipv4Address::Parse("10.66.0.11");
  inv->machines.push_back(m);
  c->inventory = inv;
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const auto full_config = Config(DhcpMode::kFull);
  static const auto proxy_config = Config(DhcpMode::kProxy);
  static DhcpResponder full(full_config, {}, StandaloneBootPolicy([] { return full_config; }));
  static DhcpResponder proxy(proxy_config, {}, StandaloneBootPolicy([] { return proxy_config; }));
  static std::int64_t now = 1'700'000'000;
  const std::uint8_t knobs = data[0];
  auto parsed = ParseDhcpMessage(std::as_bytes(std::span(data + 1, size - 1)));
  if (!parsed) return 0;
  Inbound in;
  in.msg = std::move(parsed).value();
  in.boot_server_port = (knobs & 1) != 0;
  in.local_addresses = {*Ipv4Address::Parse("10.66.0.1")};
  in.source = Ipv4Address{(knobs & 2) ? 0x0a420032u : 0u};
  now += knobs >> 4;  // time moves so offers and leases expire
  auto& r = (knobs & 4) ? proxy : full;
  auto d = r.Handle(in, now);
  if (d.reply && !SerializeDhcpMessage(d.reply->msg, 1472).ok()) {
    // Replies echo option 82 and copy nothing else unbounded: they must fit.
    if (!in.msg.Has(opt::kRelayAgentInfo)) std::abort();
  }
  return 0;
}
