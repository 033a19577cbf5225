// talosctl's client config as `talosctl gen config` writes it (the example
// in deploy/examples/talos/homelab was made by tests/support/
// talos-gen-config.sh in that shape): base64 PEM, Ed25519 keys under Go's
// "ED25519 PRIVATE KEY" label, the role in the certificate's Organization.
#include "core/talosconfig.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/x509_pem.h"
#include "tests/support/paths.h"

namespace metalpxe {
namespace {

std::string Read(const std::string& rel) {
  std::ifstream in(testing::SourceDir() + "/deploy/examples/" + rel);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Problems(const std::string& text, std::string_view context = "") {
  std::vector<std::string> out;
  for (const auto& p : ParseTalosconfig(text, "tc", context).problems) out.push_back(p.ToString());
  return out;
}

// The value of `key:` in the talosconfig text.
std::string Field(const std::string& text, const std::string& key) {
  const auto at = text.find(key + ": ") + key.size() + 2;
  return text.substr(at, text.find('\n', at) - at);
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}

TEST(Talosconfig, ReadsWhatTalosctlGenConfigWrites) {
  const std::string text = Read("talos/homelab/talosconfig");
  auto decoded_key = DecodeBase64(Field(text, "key"));
  ASSERT_TRUE(decoded_key.ok());
  ASSERT_NE(decoded_key->find("BEGIN ED25519 PRIVATE KEY"), std::string::npos) << "Go's label, as talosctl writes it";

  TalosconfigParse parsed = ParseTalosconfig(text, "talosconfig");
  ASSERT_TRUE(parsed.credentials) << parsed.problems.at(0).ToString();
  const TalosCredentials& c = *parsed.credentials;
  EXPECT_EQ(c.context, "homelab");
  EXPECT_EQ(c.endpoints, std::vector<std::string>{"10.66.0.11"});
  EXPECT_TRUE(c.HasRole(kTalosRoleAdmin));
  EXPECT_FALSE(c.HasRole(kTalosRoleReader));
  // Converted for OpenSSL (and so gRPC): standard PKCS#8, still the certificate's key.
  EXPECT_EQ(c.key_pem.Reveal().rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  EXPECT_TRUE(KeyMatchesCertificate(c.key_pem.Reveal(), c.crt_pem).ok());
  EXPECT_TRUE(CertificateSignedBy(c.crt_pem, c.ca_pem).ok());
  EXPECT_EQ(fmt::format("{}", c.key_pem), "<redacted>");
}

TEST(Talosconfig, ContextsAndCredentialsThatAreMissing) {
  const std::string good = Read("talos/homelab/talosconfig");
  EXPECT_EQ(Problems(good, "prod"),
            std::vector<std::string>{"tc:4:1: context 'prod' is not one of contexts (homelab)"});
  EXPECT_EQ(Problems(Replace(good, "context: homelab", "context: prod")),
            std::vector<std::string>{"tc:3:10: context 'prod' is not one of contexts (homelab)"});
  EXPECT_EQ(Problems(Read("broken/clusters/talosconfig-no-creds")),
            std::vector<std::string>{
                "tc:5:9: contexts.homelab has no client credentials (ca, crt, key missing): it authenticates through "
                "`auth` (Omni, SideroLink), which metalpxe cannot use; use the talosconfig that `talosctl gen config` "
                "wrote"});
  EXPECT_EQ(Problems("context: x\n"), std::vector<std::string>{
                                          "tc:1:1: contexts must be a map of context name to context, not nothing"});
  EXPECT_EQ(Problems("[1, 2]"), std::vector<std::string>{
                                    "tc:1:1: a talosconfig must be a map with context and contexts, not a list"});
  EXPECT_EQ(Problems("context: [\n").size(), 1u);
  // Found by fuzz_talosconfig: an empty context was neither parsed nor a problem.
  EXPECT_EQ(Problems("context: a\ncontexts:\n  a:\n"),
            std::vector<std::string>{"tc:3:3: contexts.a is empty: it needs endpoints, ca, crt and key"});
}

TEST(Talosconfig, CredentialsThatDoNotBelongTogether) {
  const std::string good = Read("talos/homelab/talosconfig");
  const std::string other = Read("broken/clusters/talosconfig-reader");
  // Another client's certificate with our key; our certificate under another CA.
  auto swapped_crt = Problems(Replace(good, Field(good, "crt"), Field(other, "crt")));
  ASSERT_EQ(swapped_crt.size(), 1u);
  EXPECT_EQ(swapped_crt[0], "tc:10:14: contexts.homelab.key: the private key is not the certificate's key "
                            "(contexts.homelab.crt)");
  auto bad = Problems(Read("broken/clusters/talosconfig-bad"));
  ASSERT_EQ(bad.size(), 3u);
  EXPECT_EQ(bad[0], "tc:7:13: contexts.homelab.ca: not base64 (a character outside A-Z a-z 0-9 + / =) (talosctl "
                    "writes base64-encoded PEM here)");
  EXPECT_EQ(bad[1], "tc:8:14: contexts.homelab.crt: no PEM certificate found");
  EXPECT_EQ(bad[2], "tc:9:14: contexts.homelab.key: no PEM private key found");
}

TEST(X509Pem, Base64AsGoWritesIt) {
  EXPECT_EQ(DecodeBase64("aGVsbG8=").value(), "hello");
  EXPECT_EQ(DecodeBase64("aGVs\nbG8=").value(), "hello");
  EXPECT_EQ(DecodeBase64("").value(), "");
  EXPECT_FALSE(DecodeBase64("aGVsbG8").ok());
  EXPECT_FALSE(DecodeBase64("aG=sbG8=").ok());
  EXPECT_FALSE(DecodeBase64("aGVs bG8=").ok());
  EXPECT_EQ(EncodeBase64("hello"), "aGVsbG8=");
}

}  // namespace
}  // namespace metalpxe
