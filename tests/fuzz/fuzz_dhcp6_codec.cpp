// libFuzzer target for the DHCPv6 codec: any bytes must parse or fail
// cleanly; whatever parses must give every typed read without trouble, and
// serialise and parse back to the same options.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "dhcp/v6/message6.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace metalpxe::dhcp6;
  auto parsed = ParseMessage6(std::as_bytes(std::span(data, size)));
  if (!parsed) return 0;
  (void)parsed->IaNas();
  (void)parsed->GetVendorClass();
  (void)parsed->UserClasses();
  (void)parsed->ClientArchTypes();
  (void)parsed->BootfileParams();
  (void)parsed->RequestedOptions();
  (void)MacFromDuid(parsed->ClientId());
  (void)UuidFromDuid(parsed->ClientId());
  auto bytes = SerializeMessage6(*parsed);
  if (!bytes) std::abort();  // what parsed always fits again
  auto again = ParseMessage6(*bytes);
  if (!again || again->options != parsed->options || again->xid != parsed->xid) std::abort();
  return 0;
}
