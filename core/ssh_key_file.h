#pragma once
// The public half of an OpenSSH private key file, read without the private
// part: the "openssh-key-v1" container (what ssh-keygen writes) stores the
// public key blob in the clear, before the (possibly encrypted) private
// section. metalpxe needs it at config load to name the key to Hetzner Robot
// (`authorized_key` is the key's MD5 fingerprint, as Robot lists keys) and to
// refuse a key it could not use (encrypted: nobody types a passphrase for a
// daemon). Pure functions; malformed input is an error value.
#include <string>
#include <string_view>

#include "core/result.h"

namespace metalpxe {

struct SshPublicKeyInfo {
  std::string type;             // "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", ...
  std::string blob;             // the public key in SSH wire form (what fingerprints hash)
  std::string md5_fingerprint;  // "aa:bb:...:ff", lower-case hex
};

// kInvalidArgument with a sentence a user can act on (PEM instead of
// OpenSSH format, encrypted, truncated, ...). The text of the file never
// appears in messages.
Result<SshPublicKeyInfo> ParseOpenSshPrivateKey(std::string_view file_text);

// MD5 fingerprint of an OpenSSH public key line ("ssh-ed25519 AAAA... comment"),
// or kInvalidArgument.
Result<std::string> SshPublicKeyLineMd5(std::string_view line);

// "aa:bb:..." MD5 of `blob`.
std::string SshMd5Fingerprint(std::string_view blob);

}  // namespace metalpxe
