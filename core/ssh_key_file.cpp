#include "core/ssh_key_file.h"

#include <openssl/evp.h>

#include <cstdint>
#include <optional>

namespace metalpxe {
namespace {

constexpr std::string_view kOpenSshKeyBegin = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr std::string_view kOpenSshKeyEnd = "-----END OPENSSH PRIVATE KEY-----";
constexpr std::string_view kOpenSshKeyMagic{"openssh-key-v1\0", 15};

Status KeyFileProblem(const std::string& why) { return {ErrorCode::kInvalidArgument, why}; }

// RFC 4648 base64 without line breaks or padding surprises; nullopt on any
// character outside the alphabet.
std::optional<std::string> DecodeSshKeyBase64(std::string_view text) {
  std::string clean;
  for (char c : text)
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') clean += c;
  if (clean.empty() || clean.size() % 4 != 0 || clean.size() > 64 * 1024) return std::nullopt;
  for (std::size_t i = 0; i < clean.size(); ++i) {
    const char c = clean[i];
    const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                       c == '/';
    const bool pad = c == '=' && i + 2 >= clean.size();
    if (!alpha && !pad) return std::nullopt;
  }
  std::string out(clean.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(clean.data()), int(clean.size()));
  if (n < 0) return std::nullopt;
  std::size_t len = std::size_t(n);
  if (clean.size() >= 1 && clean.back() == '=') --len;
  if (clean.size() >= 2 && clean[clean.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

// SSH wire "string": uint32 length, then bytes.
class SshWireReader {
 public:
  explicit SshWireReader(std::string_view data) : data_(data) {}
  std::optional<std::string_view> String() {
    if (data_.size() < 4) return std::nullopt;
    const auto* p = reinterpret_cast<const unsigned char*>(data_.data());
    const std::uint32_t n = (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
    if (n > data_.size() - 4) return std::nullopt;
    std::string_view out = data_.substr(4, n);
    data_.remove_prefix(4 + n);
    return out;
  }
  std::optional<std::uint32_t> Uint32() {
    if (data_.size() < 4) return std::nullopt;
    const auto* p = reinterpret_cast<const unsigned char*>(data_.data());
    data_.remove_prefix(4);
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
  }

 private:
  std::string_view data_;
};

}  // namespace

std::string SshMd5Fingerprint(std::string_view blob) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(blob.data(), blob.size(), digest, &len, EVP_md5(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    if (i) out += ':';
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

Result<std::string> SshPublicKeyLineMd5(std::string_view line) {
  const auto space = line.find(' ');
  if (space == std::string_view::npos || space == 0) return KeyFileProblem("is not an OpenSSH public key line");
  std::string_view rest = line.substr(space + 1);
  rest = rest.substr(0, rest.find(' '));
  auto blob = DecodeSshKeyBase64(rest);
  if (!blob) return KeyFileProblem("is not an OpenSSH public key line (its key is not base64)");
  SshWireReader r(*blob);
  auto type = r.String();
  if (!type || *type != line.substr(0, space)) return KeyFileProblem("is not an OpenSSH public key line");
  return SshMd5Fingerprint(*blob);
}

Result<SshPublicKeyInfo> ParseOpenSshPrivateKey(std::string_view text) {
  const auto begin = text.find(kOpenSshKeyBegin);
  if (begin == std::string_view::npos) {
    if (text.find("-----BEGIN ") != std::string_view::npos && text.find("PRIVATE KEY-----") != std::string_view::npos)
      return KeyFileProblem("is a PEM private key; metalpxe reads OpenSSH keys (convert it with ssh-keygen -p -f FILE, "
                            "or make a new one with ssh-keygen -t ed25519)");
    if (text.rfind("ssh-", 0) == 0 || text.rfind("ecdsa-", 0) == 0)
      return KeyFileProblem("is a public key; sshKeyFile names the private key (its .pub is what Robot holds)");
    return KeyFileProblem("is not an OpenSSH private key (no \"" + std::string(kOpenSshKeyBegin) + "\" line)");
  }
  const auto body_start = begin + kOpenSshKeyBegin.size();
  const auto end = text.find(kOpenSshKeyEnd, body_start);
  if (end == std::string_view::npos) return KeyFileProblem("is truncated (no \"" + std::string(kOpenSshKeyEnd) + "\" line)");
  auto raw = DecodeSshKeyBase64(text.substr(body_start, end - body_start));
  if (!raw) return KeyFileProblem("is damaged (its body is not base64)");
  std::string_view data = *raw;
  if (data.substr(0, kOpenSshKeyMagic.size()) != kOpenSshKeyMagic) return KeyFileProblem("is not in the openssh-key-v1 format");
  SshWireReader r(data.substr(kOpenSshKeyMagic.size()));
  auto cipher = r.String();
  auto kdf = r.String();
  auto kdf_options = r.String();
  auto count = r.Uint32();
  if (!cipher || !kdf || !kdf_options || !count) return KeyFileProblem("is truncated");
  if (*count != 1) return KeyFileProblem("holds " + std::to_string(*count) + " keys; metalpxe needs exactly one");
  if (*cipher != "none")
    return KeyFileProblem("is encrypted with a passphrase; metalpxe cannot type one (remove it with "
                          "ssh-keygen -p -N '' -f FILE, and keep the file readable only by metalpxe)");
  auto blob = r.String();
  if (!blob || blob->empty()) return KeyFileProblem("is truncated (no public key)");
  SshWireReader key(*blob);
  auto type = key.String();
  if (!type || type->empty() || type->size() > 64) return KeyFileProblem("holds a public key without a type");
  for (char c : *type)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '@' || c == '.'))
      return KeyFileProblem("holds a public key of an unreadable type");
  SshPublicKeyInfo info;
  info.type = std::string(*type);
  info.blob = std::string(*blob);
  info.md5_fingerprint = SshMd5Fingerprint(*blob);
  return info;
}

}  // namespace metalpxe
