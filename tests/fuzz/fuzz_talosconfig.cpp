// ParseTalosconfig over arbitrary bytes: the talosconfig is a file the user
// names in metalpxe.yaml, read at every config load. Must report problems,
// never crash, throw or hang; parsed credentials must hold what the parser
// promises (a PKCS#8 key, a certificate and a CA that parse).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/talosconfig.h"
#include "core/x509_pem.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  metalpxe::TalosconfigParse parsed = metalpxe::ParseTalosconfig(text, "fuzz");
  if (parsed.credentials.has_value() != parsed.problems.empty()) std::abort();
  if (!parsed.credentials) return 0;
  const auto& c = *parsed.credentials;
  if (!metalpxe::CertificatesDer(c.ca_pem).ok() || !metalpxe::KeyMatchesCertificate(c.key_pem.Reveal(), c.crt_pem).ok())
    std::abort();
  return 0;
}
