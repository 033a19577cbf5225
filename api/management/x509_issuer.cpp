#include "api/management/x509_issuer.h"

#include <cctype>
#include <ctime>
#include <memory>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace metalpxe {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free>;
using X509Ptr = std::unique_ptr<X509, Free>;
using BioPtr = std::unique_ptr<BIO, Free>;

Status OpenSslError(const std::string& what) {
  std::string detail;
  unsigned long e = 0;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!detail.empty()) detail += "; ";
    detail += buf;
  }
  return Status(ErrorCode::kInternal, what + (detail.empty() ? "" : ": " + detail));
}

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

Result<PkeyPtr> NewKey() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return OpenSslError("generate P-256 key");
  return key;
}

Result<std::string> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("encode private key");
  }
  return BioToString(bio.get());
}

Result<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return OpenSslError("encode certificate");
  return BioToString(bio.get());
}

X509Ptr ParseCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

PkeyPtr ParseKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  return PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

// A fresh certificate body: v3, random 128-bit serial, now-1h .. now+days
// (the hour back tolerates a client clock slightly behind ours).
Result<X509Ptr> NewCertBody(EVP_PKEY* key, int valid_days) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return OpenSslError("new certificate");
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) return OpenSslError("random serial");
  serial_bytes[0] &= 0x7f;  // positive
  std::unique_ptr<BIGNUM, Free> bn(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()))) return OpenSslError("set serial");
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(valid_days) * 24 * 3600)) {
    return OpenSslError("set validity");
  }
  if (X509_set_pubkey(cert.get(), key) != 1) return OpenSslError("set public key");
  return cert;
}

Status SetSubject(X509* cert, const std::string& cn, const std::string& org) {
  X509_NAME* name = X509_get_subject_name(cert);
  auto add = [&](const char* field, const std::string& value) {
    return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.c_str()),
                                      -1, -1, 0) == 1;
  };
  if (!org.empty() && !add("O", org)) return OpenSslError("set subject O");
  if (!add("CN", cn)) return OpenSslError("set subject CN");
  return Status::Ok();
}

Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Free> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) return OpenSslError(std::string("add extension ") + OBJ_nid2sn(nid));
  return Status::Ok();
}

}  // namespace

Result<PemKeyPair> IssueCa(const std::string& common_name, int valid_days) {
  auto key = NewKey();
  if (!key.ok()) return key.status();
  auto cert = NewCertBody(key->get(), valid_days);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  if (auto s = SetSubject(c, common_name, "metalpxe"); !s.ok()) return s;
  if (X509_set_issuer_name(c, X509_get_subject_name(c)) != 1) return OpenSslError("set issuer");
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"},
                            std::pair{NID_subject_key_identifier, "hash"}}) {
    if (auto s = AddExtension(c, c, nid, value); !s.ok()) return s;
  }
  if (X509_sign(c, key->get(), EVP_sha256()) <= 0) return OpenSslError("sign CA certificate");
  auto cert_pem = CertToPem(c);
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = KeyToPem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  return PemKeyPair{*cert_pem, Secret(std::move(key_pem).value())};
}

Result<PemKeyPair> IssueLeaf(const PemKeyPair& ca, const LeafSpec& spec) {
  X509Ptr ca_cert = ParseCert(ca.cert_pem);
  PkeyPtr ca_key = ParseKey(ca.key_pem.Reveal());
  if (!ca_cert || !ca_key) return OpenSslError("read CA certificate/key");
  auto key = NewKey();
  if (!key.ok()) return key.status();
  auto cert = NewCertBody(key->get(), spec.valid_days);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  if (auto s = SetSubject(c, spec.common_name, spec.organization); !s.ok()) return s;
  if (X509_set_issuer_name(c, X509_get_subject_name(ca_cert.get())) != 1) return OpenSslError("set issuer");
  std::vector<std::pair<int, std::string>> exts = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
      {NID_ext_key_usage, spec.server ? "serverAuth" : "clientAuth"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  std::string san;
  for (const auto& ip : spec.ip_addresses) san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
  for (const auto& dns : spec.dns_names) san += (san.empty() ? "" : ",") + std::string("DNS:") + dns;
  if (!san.empty()) exts.emplace_back(NID_subject_alt_name, san);
  for (const auto& [nid, value] : exts) {
    if (auto s = AddExtension(c, ca_cert.get(), nid, value); !s.ok()) return s;
  }
  if (X509_sign(c, ca_key.get(), EVP_sha256()) <= 0) return OpenSslError("sign certificate");
  auto cert_pem = CertToPem(c);
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = KeyToPem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  return PemKeyPair{*cert_pem, Secret(std::move(key_pem).value())};
}

bool CertificateCovers(const std::string& cert_pem, const std::string& ca_cert_pem,
                       const std::vector<std::string>& ip_addresses, const std::vector<std::string>& dns_names) {
  X509Ptr cert = ParseCert(cert_pem);
  X509Ptr ca = ParseCert(ca_cert_pem);
  if (!cert || !ca) return false;
  EVP_PKEY* ca_pub = X509_get0_pubkey(ca.get());
  if (!ca_pub || X509_verify(cert.get(), ca_pub) != 1) {
    ERR_clear_error();
    return false;
  }
  // Expiring within 30 days counts as not covering: reissue on this start.
  if (X509_cmp_time(X509_get0_notAfter(cert.get()), nullptr) <= 0) return false;
  time_t soon = time(nullptr) + 30 * 24 * 3600;
  if (X509_cmp_time(X509_get0_notAfter(cert.get()), &soon) <= 0) return false;
  for (const auto& ip : ip_addresses) {
    if (X509_check_ip_asc(cert.get(), ip.c_str(), 0) != 1) return false;
  }
  for (const auto& dns : dns_names) {
    if (X509_check_host(cert.get(), dns.c_str(), dns.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) != 1) {
      return false;
    }
  }
  return true;
}

Secret EncodeCaBundle(const PemKeyPair& ca) {
  std::string text = ca.cert_pem;
  if (!text.empty() && text.back() != '\n') text += '\n';
  text += ca.key_pem.Reveal();
  Secret out(text);
  OPENSSL_cleanse(text.data(), text.size());
  return out;
}

Result<PemKeyPair> DecodeCaBundle(std::string_view bundle) {
  static constexpr std::string_view kCertEnd = "-----END CERTIFICATE-----";
  const auto bad = [](const std::string& why) {
    ERR_clear_error();
    return Status(ErrorCode::kDataLoss, "shared API CA: " + why);
  };
  const auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  std::size_t begin = 0;
  while (begin < bundle.size() && is_space(bundle[begin])) ++begin;
  if (bundle.substr(begin, 27) != "-----BEGIN CERTIFICATE-----") return bad("does not start with a certificate");
  const auto end = bundle.find(kCertEnd, begin);
  if (end == std::string_view::npos) return bad("certificate not terminated");
  std::size_t split = end + kCertEnd.size();
  while (split < bundle.size() && (bundle[split] == '\r' || bundle[split] == '\n')) ++split;
  PemKeyPair pair{std::string(bundle.substr(begin, split - begin)), Secret(std::string(bundle.substr(split)))};
  // Exactly one PEM block on each side: a second certificate or key would
  // be ignored by the parsers below, and the value is not ours to guess at.
  const std::string& key_pem = pair.key_pem.Reveal();
  if (pair.cert_pem.find("-----BEGIN", 1) != std::string::npos) return bad("more than one PEM block before the key");
  const auto key_begin = key_pem.find("-----BEGIN");
  if (key_begin == std::string::npos) return bad("no private key after the certificate");
  // An unencrypted PKCS#8 key, as IssueCa writes it: an encrypted one would
  // make OpenSSL ask for a passphrase on the terminal.
  if (key_pem.compare(key_begin, 27, "-----BEGIN PRIVATE KEY-----") != 0)
    return bad("the key is not an unencrypted PKCS#8 private key");
  for (std::size_t i = 0; i < key_begin; ++i)
    if (!is_space(key_pem[i])) return bad("text between the certificate and the key");
  const auto key_end = key_pem.find("-----END", key_begin);
  const auto key_end_line = key_end == std::string::npos ? std::string::npos : key_pem.find("-----", key_end + 8);
  if (key_end_line == std::string::npos) return bad("private key not terminated");
  for (std::size_t i = key_end_line + 5; i < key_pem.size(); ++i)
    if (!is_space(key_pem[i])) return bad("text after the private key");
  X509Ptr cert = ParseCert(pair.cert_pem);
  if (!cert) return bad("the certificate does not parse");
  PkeyPtr key = ParseKey(key_pem);
  if (!key) return bad("the private key does not parse");
  if (X509_check_ca(cert.get()) != 1) return bad("the certificate is not a CA certificate");
  if (X509_check_private_key(cert.get(), key.get()) != 1) return bad("the private key is not the certificate's");
  return pair;
}

Result<CertificateIdentity> ReadCertificateIdentity(const std::string& cert_pem) {
  X509Ptr cert = ParseCert(cert_pem);
  if (!cert) {
    ERR_clear_error();
    return Status(ErrorCode::kInvalidArgument, "not a PEM certificate");
  }
  CertificateIdentity id;
  const X509_NAME* subject = X509_get_subject_name(cert.get());
  auto text_of = [](const X509_NAME_ENTRY* entry) {
    unsigned char* utf8 = nullptr;
    const int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    std::string out = n > 0 ? std::string(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(n)) : "";
    OPENSSL_free(utf8);
    return out;
  };
  for (int i = X509_NAME_get_index_by_NID(subject, NID_organizationName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_organizationName, i)) {
    id.organizations.push_back(text_of(X509_NAME_get_entry(subject, i)));
  }
  if (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0) {
    id.common_name = text_of(X509_NAME_get_entry(subject, i));
  }
  std::unique_ptr<BIGNUM, Free> bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
  if (!bn) return OpenSslError("read serial");
  char* hex = BN_bn2hex(bn.get());
  if (!hex) return OpenSslError("serial to hex");
  id.serial = hex;
  OPENSSL_free(hex);
  for (auto& c : id.serial) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // BN_bn2hex writes whole bytes ("0a1b"); the deny list's form has no leading zeros.
  if (auto first = id.serial.find_first_not_of('0'); first == std::string::npos) id.serial = "0";
  else id.serial.erase(0, first);
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) == 1) id.not_after_unix = timegm(&tm);
  return id;
}

}  // namespace metalpxe
