// Any text presented as a config token: VerifyToken never crashes, accepts
// nothing unsigned, and what it accepts re-signs to the same text. The same
// bytes as the shared store's token key value: DecodeTokenKey accepts only
// what EncodeTokenKey gives back unchanged.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/install/config_token_codec.h"
#include "core/install/token_key.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::array<std::uint8_t, metalpxe::kTokenKeyBytes> key{1, 2, 3};
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto claims = metalpxe::VerifyToken(text, key);
  if (claims && metalpxe::SignToken(*claims, key) != text) std::abort();
  if (const auto shared = metalpxe::DecodeTokenKey(text); shared && metalpxe::EncodeTokenKey(*shared).Reveal() != text)
    std::abort();
  return 0;
}
