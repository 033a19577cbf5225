#include "tests/e2e/installer/standin_pki.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace metalpxe::standin {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;

Status Fail(const std::string& what) { return Status(ErrorCode::kInternal, "standin pki: " + what); }

X509Ptr ReadCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

// Go writes Ed25519 keys as PKCS#8 DER under "ED25519 PRIVATE KEY": read
// the block whatever its label and decode the DER ourselves.
PkeyPtr ReadKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  if (!bio || PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) return nullptr;
  const unsigned char* p = data;
  PkeyPtr key(d2i_AutoPrivateKey(nullptr, &p, len));
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_clear_free(data, static_cast<std::size_t>(len));
  return key;
}

PkeyPtr NewKey(int type) {
  EVP_PKEY* key = nullptr;
  std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>> ctx(EVP_PKEY_CTX_new_id(type, nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1) return nullptr;
  if (type == EVP_PKEY_EC && EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), NID_X9_62_prime256v1) != 1)
    return nullptr;
  if (EVP_PKEY_keygen(ctx.get(), &key) != 1) return nullptr;
  return PkeyPtr(key);
}

std::string PemOf(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string PemOf(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);  // PKCS#8
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

struct CertSpec {
  std::string common_name, organization;
  std::string extended_key_usage;  // "serverAuth" | "clientAuth"
  std::string subject_alt_names;   // "IP:1.2.3.4,DNS:x" or empty
};

// A leaf certificate for `key`, signed by (issuer, issuer_key); self-signed when issuer is null.
Result<X509Ptr> MakeCert(EVP_PKEY* key, const CertSpec& spec, X509* issuer, EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_set_version(cert.get(), X509_VERSION_3);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // as Talos: tolerate a skewed clock
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!spec.organization.empty())
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(spec.organization.c_str()), -1, -1, 0);
  if (!spec.common_name.empty())
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(cert.get(), key);
  X509* signer = issuer ? issuer : cert.get();
  bool ok = AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE") &&
            AddExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature") &&
            AddExtension(cert.get(), signer, NID_ext_key_usage, spec.extended_key_usage);
  if (ok && !spec.subject_alt_names.empty())
    ok = AddExtension(cert.get(), signer, NID_subject_alt_name, spec.subject_alt_names);
  if (!ok) return Fail("cannot add extensions");
  // Ed25519 signs without a separate digest; ECDSA/RSA CAs use SHA-256.
  const bool pure = EVP_PKEY_get_id(issuer_key) == EVP_PKEY_ED25519;
  if (X509_sign(cert.get(), issuer_key, pure ? nullptr : EVP_sha256()) <= 0) return Fail("cannot sign");
  return cert;
}

std::string SanList(const std::vector<std::string>& ips, const std::vector<std::string>& dns) {
  std::string out;
  for (const auto& ip : ips) out += (out.empty() ? "IP:" : ",IP:") + ip;
  for (const auto& d : dns) out += (out.empty() ? "DNS:" : ",DNS:") + d;
  return out;
}

}  // namespace

Result<IssuedPair> IssueApidCertificate(const std::string& ca_cert_pem, const std::string& ca_key_pem,
                                        const std::vector<std::string>& ips, const std::vector<std::string>& dns) {
  X509Ptr ca = ReadCert(ca_cert_pem);
  PkeyPtr ca_key = ReadKey(ca_key_pem);
  if (!ca || !ca_key) return Fail("machine.ca does not parse (crt and key)");
  if (X509_check_private_key(ca.get(), ca_key.get()) != 1) return Fail("machine.ca key is not the crt's");
  PkeyPtr key = NewKey(EVP_PKEY_ED25519);
  if (!key) return Fail("cannot make an Ed25519 key");
  auto cert = MakeCert(key.get(), {dns.empty() ? "" : dns.front(), "", "serverAuth", SanList(ips, dns)}, ca.get(),
                       ca_key.get());
  if (!cert) return cert.status();
  return IssuedPair{PemOf(cert->get()), PemOf(key.get())};
}

Result<IssuedPair> MaintenanceCertificate(const std::vector<std::string>& ips) {
  PkeyPtr key = NewKey(EVP_PKEY_ED25519);
  if (!key) return Fail("cannot make an Ed25519 key");
  auto cert = MakeCert(key.get(), {"maintenance-service", "", "serverAuth", SanList(ips, {})}, nullptr, key.get());
  if (!cert) return cert.status();
  return IssuedPair{PemOf(cert->get()), PemOf(key.get())};
}

Result<IssuedPair> IssueKubernetesAdmin(const std::string& ca_cert_pem, const std::string& ca_key_pem) {
  X509Ptr ca = ReadCert(ca_cert_pem);
  PkeyPtr ca_key = ReadKey(ca_key_pem);
  if (!ca || !ca_key) return Fail("cluster.ca does not parse (crt and key)");
  PkeyPtr key = NewKey(EVP_PKEY_EC);
  if (!key) return Fail("cannot make an ECDSA key");
  auto cert = MakeCert(key.get(), {"admin", "system:masters", "clientAuth", ""}, ca.get(), ca_key.get());
  if (!cert) return cert.status();
  return IssuedPair{PemOf(cert->get()), PemOf(key.get())};
}

Result<KeyAndCsr> MakeApidCsr(const std::vector<std::string>& ips, const std::string& hostname) {
  PkeyPtr key = NewKey(EVP_PKEY_ED25519);
  std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>> req(X509_REQ_new());
  if (!key || !req) return Fail("cannot make a key or CSR");
  X509_REQ_set_version(req.get(), 0);
  if (!hostname.empty())
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req.get()), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(hostname.c_str()), -1, -1, 0);
  X509_REQ_set_pubkey(req.get(), key.get());
  const std::string sans = SanList(ips, hostname.empty() ? std::vector<std::string>{} : std::vector{hostname});
  if (!sans.empty()) {
    STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, sans.c_str());
    if (ext) sk_X509_EXTENSION_push(exts, ext);
    X509_REQ_add_extensions(req.get(), exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
  if (X509_REQ_sign(req.get(), key.get(), nullptr) <= 0) return Fail("cannot sign the CSR");
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return KeyAndCsr{PemOf(key.get()), std::string(data, static_cast<std::size_t>(n))};
}

Result<std::string> SignApidCsr(const std::string& ca_cert_pem, const std::string& ca_key_pem,
                                const std::string& csr_pem) {
  X509Ptr ca = ReadCert(ca_cert_pem);
  PkeyPtr ca_key = ReadKey(ca_key_pem);
  if (!ca || !ca_key) return Fail("machine.ca does not parse (crt and key)");
  BioPtr bio(BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size())));
  std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>> req(
      bio ? PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!req) return Status(ErrorCode::kInvalidArgument, "failed to decode CSR");
  PkeyPtr key(X509_REQ_get_pubkey(req.get()));
  if (!key || X509_REQ_verify(req.get(), key.get()) != 1)
    return Status(ErrorCode::kInvalidArgument, "failed to parse CSR: bad signature");
  std::string sans;  // the CSR's subjectAltName, copied as is
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req.get());
  for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
    auto* names = static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext));
    for (int j = 0; names && j < sk_GENERAL_NAME_num(names); ++j) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, j);
      if (gn->type == GEN_DNS) {
        sans += (sans.empty() ? "DNS:" : ",DNS:") +
                std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)));
      } else if (gn->type == GEN_IPADD && ASN1_STRING_length(gn->d.iPAddress) == 4) {
        const unsigned char* b = ASN1_STRING_get0_data(gn->d.iPAddress);
        sans += (sans.empty() ? "IP:" : ",IP:") + std::to_string(b[0]) + "." + std::to_string(b[1]) + "." +
                std::to_string(b[2]) + "." + std::to_string(b[3]);
      }
    }
    GENERAL_NAMES_free(names);
  }
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  const int cn_at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  std::string cn;
  if (cn_at >= 0) {
    const ASN1_STRING* v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, cn_at));
    cn.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)), static_cast<std::size_t>(ASN1_STRING_length(v)));
  }
  auto cert = MakeCert(key.get(), {cn, "", "serverAuth", sans}, ca.get(), ca_key.get());
  if (!cert) return cert.status();
  return PemOf(cert->get());
}

std::vector<std::string> OrganizationsOf(const std::string& cert_pem) {
  std::vector<std::string> out;
  X509Ptr cert = ReadCert(cert_pem);
  if (!cert) return out;
  X509_NAME* subject = X509_get_subject_name(cert.get());
  for (int i = X509_NAME_get_index_by_NID(subject, NID_organizationName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_organizationName, i)) {
    const ASN1_STRING* v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
                     static_cast<std::size_t>(ASN1_STRING_length(v)));
  }
  return out;
}

}  // namespace metalpxe::standin
