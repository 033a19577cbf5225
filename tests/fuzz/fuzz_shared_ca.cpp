// Any bytes as the shared store's API CA value (an etcd key anyone with
// write access to etcd could have changed): DecodeCaBundle returns an error
// or a CA whose certificate and key belong together, and never crashes,
// throws or asks for a passphrase. What it accepts encodes back to a value
// it accepts the same way.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/management/x509_issuer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto ca = metalpxe::DecodeCaBundle(text);
  if (!ca.ok()) return 0;
  auto again = metalpxe::DecodeCaBundle(metalpxe::EncodeCaBundle(*ca).Reveal());
  if (!again.ok() || again->cert_pem != ca->cert_pem || !(again->key_pem == ca->key_pem)) std::abort();
  return 0;
}
