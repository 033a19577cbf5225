#include "core/x509_pem.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

namespace metalpxe {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct Pkcs8Free {
  void operator()(PKCS8_PRIV_KEY_INFO* p) const { PKCS8_PRIV_KEY_INFO_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// One PEM block as PEM_read_bio gives it. The DER is wiped when the block
// goes away: it may be a private key.
struct PemBlock {
  std::string name;
  std::string der;
  ~PemBlock() { OPENSSL_cleanse(der.data(), der.size()); }
};

BioPtr MemoryBio(std::string_view text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// Reads the next PEM block of `bio`; false at the end (or on garbage).
bool NextPemBlock(BIO* bio, PemBlock& out) {
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  if (PEM_read_bio(bio, &name, &header, &data, &len) != 1) return false;
  out.name = name;
  out.der.assign(reinterpret_cast<const char*>(data), static_cast<std::size_t>(len));
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_clear_free(data, static_cast<std::size_t>(len));
  return true;
}

X509Ptr ParseDerCertificate(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  return X509Ptr(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
}

Result<X509Ptr> FirstCertificate(std::string_view pem) {
  auto ders = CertificatesDer(pem);
  if (!ders) return ders.status();
  X509Ptr cert = ParseDerCertificate(ders->front());
  if (!cert) return Status(ErrorCode::kInvalidArgument, "certificate does not parse");
  return cert;
}

// Any private key PEM, including Go's "ED25519 PRIVATE KEY" (PKCS#8 DER).
Result<PkeyPtr> ParsePrivateKey(std::string_view key_pem) {
  BioPtr bio = MemoryBio(key_pem);
  PemBlock block;
  if (!bio || !NextPemBlock(bio.get(), block)) {
    return Status(ErrorCode::kInvalidArgument, "no PEM private key found");
  }
  if (block.name.find("ENCRYPTED") != std::string::npos) {
    return Status(ErrorCode::kInvalidArgument, "the private key is encrypted");
  }
  if (block.name.find("PRIVATE KEY") == std::string::npos) {
    return Status(ErrorCode::kInvalidArgument, "PEM block '" + block.name + "' is not a private key");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(block.der.data());
  PkeyPtr key;
  if (block.name == "PRIVATE KEY" || block.name == "ED25519 PRIVATE KEY") {
    std::unique_ptr<PKCS8_PRIV_KEY_INFO, Pkcs8Free> info(
        d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(block.der.size())));
    if (info) key.reset(EVP_PKCS82PKEY(info.get()));
  } else {
    // "EC PRIVATE KEY", "RSA PRIVATE KEY": the traditional encodings.
    key.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(block.der.size())));
  }
  if (!key) return Status(ErrorCode::kInvalidArgument, "PEM block '" + block.name + "' does not hold a private key");
  return key;
}

}  // namespace

Result<std::string> DecodeBase64(std::string_view text) {
  std::string compact;
  compact.reserve(text.size());
  for (char c : text) {
    if (c == '\n' || c == '\r') continue;
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                    c == '/' || c == '=';
    if (!ok) return Status(ErrorCode::kInvalidArgument, "not base64 (a character outside A-Z a-z 0-9 + / =)");
    compact.push_back(c);
  }
  if (compact.size() % 4 != 0) return Status(ErrorCode::kInvalidArgument, "not base64 (length is not a multiple of 4)");
  const std::size_t pad = compact.empty() ? 0 : (compact.back() == '=') + (compact.size() > 1 && compact[compact.size() - 2] == '=');
  if (compact.find('=') < compact.size() - pad) {
    return Status(ErrorCode::kInvalidArgument, "not base64 ('=' inside the text)");
  }
  std::string out(compact.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(compact.data()), static_cast<int>(compact.size()));
  OPENSSL_cleanse(compact.data(), compact.size());
  if (n < 0) return Status(ErrorCode::kInvalidArgument, "not base64");
  out.resize(static_cast<std::size_t>(n) - pad);  // EVP_DecodeBlock counts the padding as zero bytes
  return out;
}

std::string EncodeBase64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<std::vector<std::string>> CertificatesDer(std::string_view pem) {
  BioPtr bio = MemoryBio(pem);
  if (!bio) return Status(ErrorCode::kInternal, "BIO_new_mem_buf failed");
  std::vector<std::string> out;
  PemBlock block;
  while (NextPemBlock(bio.get(), block)) {
    if (block.name != "CERTIFICATE") continue;
    if (!ParseDerCertificate(block.der)) {
      return Status(ErrorCode::kInvalidArgument, "a CERTIFICATE block does not parse as X.509");
    }
    out.push_back(block.der);
  }
  if (out.empty()) return Status(ErrorCode::kInvalidArgument, "no PEM certificate found");
  return out;
}

Result<std::vector<std::string>> CertificateOrganizations(std::string_view cert_pem) {
  auto cert = FirstCertificate(cert_pem);
  if (!cert) return cert.status();
  std::vector<std::string> out;
  X509_NAME* subject = X509_get_subject_name(cert->get());
  for (int i = X509_NAME_get_index_by_NID(subject, NID_organizationName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_organizationName, i)) {
    const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<std::size_t>(ASN1_STRING_length(value)));
  }
  return out;
}

Result<std::string> CertificateCommonName(std::string_view cert_pem) {
  auto cert = FirstCertificate(cert_pem);
  if (!cert) return cert.status();
  X509_NAME* subject = X509_get_subject_name(cert->get());
  const int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (i < 0) return std::string();
  const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<std::size_t>(ASN1_STRING_length(value)));
}

Status CertificateSignedBy(std::string_view cert_pem, std::string_view ca_pem) {
  auto cert = FirstCertificate(cert_pem);
  if (!cert) return cert.status();
  auto cas = CertificatesDer(ca_pem);
  if (!cas) return Status(ErrorCode::kInvalidArgument, "CA: " + cas.status().message());
  for (const std::string& der : *cas) {
    X509Ptr ca = ParseDerCertificate(der);
    EVP_PKEY* ca_key = ca ? X509_get0_pubkey(ca.get()) : nullptr;
    if (ca_key && X509_verify(cert->get(), ca_key) == 1) return Status::Ok();
  }
  return Status(ErrorCode::kPermissionDenied, "not signed by the CA");
}

Result<Secret> PrivateKeyToPkcs8Pem(std::string_view key_pem) {
  auto key = ParsePrivateKey(key_pem);
  if (!key) return key.status();
  BioPtr out(BIO_new(BIO_s_secmem()));
  if (!out || PEM_write_bio_PrivateKey(out.get(), key->get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Status(ErrorCode::kInternal, "cannot encode the private key as PKCS#8");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(out.get(), &data);
  return Secret(std::string(data, static_cast<std::size_t>(len)));
}

Status KeyMatchesCertificate(std::string_view key_pem, std::string_view cert_pem) {
  auto key = ParsePrivateKey(key_pem);
  if (!key) return key.status();
  auto cert = FirstCertificate(cert_pem);
  if (!cert) return cert.status();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    return Status(ErrorCode::kInvalidArgument, "the private key is not the certificate's key");
  }
  return Status::Ok();
}

}  // namespace metalpxe
