// libFuzzer target for the DHCPv6 responder: whatever a client sends (the
// input split into messages at 0xff 0xff 0xff markers, each from a source
// chosen by its first byte), the responder answers or stays silent without
// trouble, every answer serialises, and its bindings never exceed the pool
// (nothing a client sends grows state without bound).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "core/provisioning/boot_files.h"
#include "dhcp/v6/responder6.h"

using namespace metalpxe;
using namespace metalpxe::dhcp6;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto config = [] {
    auto c = std::make_shared<AppConfig>();
    c->server.address = *Ipv4Address::Parse("10.66.0.1");
    c->server.address6 = *Ipv6Address::Parse("fd00:66::1");
    c->dhcp6.mode = DhcpMode::kFull;
    Subnet6Config s;
    s.subnet = *Ipv6Cidr::Parse("fd00:66::/64");
    s.pool = *Ipv6Range::Parse("fd00:66::100-fd00:66::10f");
    c->dhcp6.subnets.push_back(s);
    return c;
  }();
  Dhcp6Responder r(config,
                   [](const BootClient& client, const MacAddress&) {
                     return ChooseLoader(client, config->server, [](std::string_view) { return true; });
                   },
                   DuidLl(MacAddress{{2, 0, 0, 0, 0, 1}}));
  std::size_t start = 0;
  std::int64_t now = 1000;
  while (start < size) {
    std::size_t end = start;
    while (end + 2 < size && !(data[end] == 0xff && data[end + 1] == 0xff && data[end + 2] == 0xff)) ++end;
    if (end + 2 >= size) end = size;
    if (end > start) {
      Inbound6 in;
      in.source = *Ipv6Address::Parse("fe80::5054:ff:fe12:3400");
      in.source.bytes[15] = data[start];
      in.local_addresses = {config->server.address6.value()};
      auto msg = ParseMessage6(std::as_bytes(std::span(data + start + 1, end - start - 1)));
      if (msg.ok()) {
        in.msg = std::move(*msg);
        auto d = r.Handle(in, now);
        if (d.reply && !SerializeMessage6(*d.reply).ok()) std::abort();
        if (r.bindings().size() > 16 * 2) std::abort();  // pool + its declined quarantine
      }
      now += data[start];
    }
    start = end + 3;
  }
  return 0;
}
