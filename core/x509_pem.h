#pragma once
// The PEM and X.509 facts metalpxe needs about Talos credentials (the
// talosconfig's CA, client certificate and key; a machine config's
// machine.ca), through OpenSSL. Talos writes its keys as Go's crypto library
// does: Ed25519 keys in PKCS#8 DER under the PEM label "ED25519 PRIVATE KEY",
// which OpenSSL 3 does not read as is, so keys are re-encoded as standard
// PKCS#8 ("PRIVATE KEY") before anything hands them to gRPC. Text in, text
// out: no OpenSSL object leaves this file. Pure functions (no I/O).
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/secret.h"

namespace metalpxe {

// Standard base64 (RFC 4648, '+' '/' with '=' padding), as Go's
// base64.StdEncoding writes the talosconfig's ca/crt/key and a machine
// config's machine.ca.crt. Line breaks are tolerated; anything else that is
// not base64 is an error.
Result<std::string> DecodeBase64(std::string_view text);
std::string EncodeBase64(std::string_view bytes);

// Every "CERTIFICATE" block of a PEM bundle, as DER. An input with no
// certificate, or a block that does not parse as X.509, is an error.
Result<std::vector<std::string>> CertificatesDer(std::string_view pem);

// The subject Organization values of the first certificate (Talos's roles:
// "os:admin", "os:operator", "os:reader", ...).
Result<std::vector<std::string>> CertificateOrganizations(std::string_view cert_pem);

// The first certificate's subject common name.
Result<std::string> CertificateCommonName(std::string_view cert_pem);

// Ok when the first certificate of `cert_pem` carries a valid signature by
// one of the certificates in `ca_pem` (no time or purpose checks: this is
// about which CA a credential belongs to, at config load).
Status CertificateSignedBy(std::string_view cert_pem, std::string_view ca_pem);

// The key as unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), from
// any label OpenSSL reads plus Go's "ED25519 PRIVATE KEY" (PKCS#8 DER under
// a non-standard label). Encrypted keys are refused.
Result<Secret> PrivateKeyToPkcs8Pem(std::string_view key_pem);

// Ok when `key_pem` (any label PrivateKeyToPkcs8Pem reads) is the private
// half of the first certificate in `cert_pem`.
Status KeyMatchesCertificate(std::string_view key_pem, std::string_view cert_pem);

}  // namespace metalpxe
