// libFuzzer target for the ping-check's readers: any bytes from the wire
// (an ARP packet, a raw ICMP read) give an answer or nothing, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "dhcp/probe_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace metalpxe::dhcp;
  const std::span<const std::uint8_t> in(data, size);
  if (auto a = ArpSenderAddress(in); a && a->IsUnspecified()) std::abort();
  const std::uint16_t id = size >= 2 ? static_cast<std::uint16_t>(data[0] << 8 | data[1]) : 0;
  if (auto e = EchoReplySource(in, id); e && e->IsUnspecified()) std::abort();
  return 0;
}
