// ParseClientConfig over arbitrary bytes: metalpxectl reads a file a user
// may have edited by hand. Must return an error, never crash or throw; a
// parsed config must survive a render/parse round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/management/client_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = metalpxe::ParseClientConfig(text);
  if (!config.ok()) return 0;
  auto again = metalpxe::ParseClientConfig(metalpxe::RenderClientConfig(*config));
  if (!again.ok() || again->endpoint != config->endpoint || again->ca_pem != config->ca_pem ||
      again->cert_pem != config->cert_pem || !(again->key_pem == config->key_pem)) {
    std::abort();
  }
  return 0;
}
