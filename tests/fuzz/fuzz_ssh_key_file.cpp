// libFuzzer target: the OpenSSH private key container reader that derives
// the Robot authorized_key fingerprint at config load, over arbitrary bytes
// (also wrapped in the BEGIN/END lines, so the base64 and wire parsing run),
// and the public key line reader used on Robot's host_key entries.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/ssh_key_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)metalpxe::ParseOpenSshPrivateKey(text);
  const std::string wrapped = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + std::string(text) +
                              "\n-----END OPENSSH PRIVATE KEY-----\n";
  (void)metalpxe::ParseOpenSshPrivateKey(wrapped);
  (void)metalpxe::SshPublicKeyLineMd5(text);
  return 0;
}
