// libFuzzer target: the etcd URL parser of the `store:` config section
// (core/store_config.h) on arbitrary text. What it accepts must print as a
// target gRPC can dial and parse again to the same endpoint.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/store_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto ep = metalpxe::ParseEtcdEndpoint(text);
  if (!ep.ok()) return 0;
  if (ep->host.empty() || ep->port == 0) std::abort();
  auto again = metalpxe::ParseEtcdEndpoint((ep->tls ? "https://" : "http://") + ep->Target());
  if (!again.ok() || again->host != ep->host || again->port != ep->port || again->tls != ep->tls) std::abort();
  return 0;
}
