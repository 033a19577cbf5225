// libFuzzer target for the DHCPv4 codec: any bytes must parse or fail
// cleanly, and whatever parses must serialise and parse back to the same options.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "dhcp/classify.h"
#include "dhcp/message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace metalpxe::dhcp;
  auto parsed = ParseDhcpMessage(std::as_bytes(std::span(data, size)));
  if (!parsed) return 0;
  (void)ClassifyClient(*parsed);
  auto bytes = SerializeDhcpMessage(*parsed, 1472);
  if (!bytes) return 0;  // too many options for one message: a clean error
  auto again = ParseDhcpMessage(*bytes);
  if (!again) std::abort();
  if (again->options.size() != parsed->options.size()) std::abort();
  for (std::size_t i = 0; i < parsed->options.size(); ++i)
    if (again->options[i].code != parsed->options[i].code || again->options[i].data != parsed->options[i].data)
      std::abort();
  return 0;
}
