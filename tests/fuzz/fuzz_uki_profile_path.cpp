// libFuzzer target: UkiProfileOf (secureBoot uki) on arbitrary HTTP paths and
// TFTP names, which any machine on the network sends. A profile name it
// returns must be one path component, and the path must be the one the
// profile's UKI is served under.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/provisioning/boot_urls.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view path(reinterpret_cast<const char*>(data), size);
  const auto profile = metalpxe::UkiProfileOf(path);
  if (!profile) return 0;
  if (profile->empty() || profile->find('/') != std::string::npos) std::abort();
  const std::string http = std::string(metalpxe::kProfileAssetsPrefix) + "/" + *profile + "/" +
                           std::string(metalpxe::kUkiFileName);
  const std::string tftp = metalpxe::ProfileTftpPath(*profile, metalpxe::kUkiFileName);
  if (path != http && path != tftp && path != "/" + tftp) std::abort();
  return 0;
}
