// EnsureApiPki: files and modes, reuse, SANs as openssl sees them, reissue on
// an address change; the client config round trip.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "api/management/client_certificates.h"
#include "api/management/client_config.h"
#include "api/management/pki.h"
#include "api/management/x509_issuer.h"
#include "tests/management/mgmt_fixture.h"
#include "tests/support/map_shared_values.h"
#include "tests/support/subprocess.h"

namespace metalpxe::testing {
namespace {

int Mode(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return st.st_mode & 0777;
}

std::string OpensslText(const std::string& cert_path) {
  auto r = RunCommand({"openssl", "x509", "-in", cert_path, "-noout", "-text"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.output;
}

TEST(MgmtPki, CreatesPrivateFilesAndClientConfig) {
  TempDir dir;
  auto pki = EnsureApiPki(dir.path(), Ipv4Address::FromOctets(10, 66, 0, 1), "appliance", 50100);
  ASSERT_TRUE(pki.ok()) << pki.status().ToString();
  EXPECT_EQ(Mode(dir.path() + "/pki"), 0700);
  for (const char* f : {"ca.crt", "ca.key", "server.crt", "server.key", "admin.crt", "admin.key",
                        "admin.metalpxeconfig"}) {
    EXPECT_EQ(Mode(dir.path() + "/pki/" + f), 0600) << f;
  }
  auto config = LoadClientConfig(pki->client_config_path);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->endpoint, "10.66.0.1:50100");
  EXPECT_EQ(config->ca_pem, pki->ca_cert_pem);
  EXPECT_NE(config->cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(config->key_pem.Reveal().find("PRIVATE KEY"), std::string::npos);
  // PEMs as literal blocks, readable and copy-pasteable.
  EXPECT_NE(ReadSmallFile(pki->client_config_path)->find("ca: |"), std::string::npos);
}

TEST(MgmtPki, CertificatesAsOpensslSeesThem) {
  TempDir dir;
  ASSERT_TRUE(EnsureApiPki(dir.path(), Ipv4Address::FromOctets(10, 66, 0, 1), "appliance").ok());
  const std::string pki = dir.path() + "/pki/";
  const std::string server = OpensslText(pki + "server.crt");
  EXPECT_NE(server.find("IP Address:10.66.0.1"), std::string::npos) << server;
  EXPECT_NE(server.find("IP Address:127.0.0.1"), std::string::npos);
  EXPECT_NE(server.find("DNS:appliance"), std::string::npos);
  EXPECT_NE(server.find("DNS:localhost"), std::string::npos);
  EXPECT_NE(server.find("TLS Web Server Authentication"), std::string::npos);
  EXPECT_NE(server.find("prime256v1"), std::string::npos);
  const std::string ca = OpensslText(pki + "ca.crt");
  EXPECT_NE(ca.find("CA:TRUE"), std::string::npos) << ca;
  EXPECT_NE(ca.find("Certificate Sign"), std::string::npos);
  const std::string admin = OpensslText(pki + "admin.crt");
  EXPECT_NE(admin.find("O = metalpxe:admin, CN = admin"), std::string::npos) << admin;
  EXPECT_NE(admin.find("TLS Web Client Authentication"), std::string::npos);
  // Both leaves chain to the CA.
  for (const char* leaf : {"server.crt", "admin.crt"}) {
    auto r = RunCommand({"openssl", "verify", "-CAfile", pki + "ca.crt", pki + leaf});
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
}

TEST(MgmtPki, SecondCallReusesEverything) {
  TempDir dir;
  auto first = EnsureApiPki(dir.path(), Ipv4Address::FromOctets(10, 66, 0, 1), "appliance");
  ASSERT_TRUE(first.ok());
  auto config1 = ReadSmallFile(first->client_config_path);
  auto second = EnsureApiPki(dir.path(), Ipv4Address::FromOctets(10, 66, 0, 1), "appliance");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->ca_cert_pem, second->ca_cert_pem);
  EXPECT_EQ(first->server_cert_pem, second->server_cert_pem);
  EXPECT_EQ(first->server_key_pem, second->server_key_pem);
  EXPECT_EQ(*config1, *ReadSmallFile(second->client_config_path));
}

TEST(MgmtPki, NewAddressReissuesServerCertFromSameCa) {
  TempDir dir;
  auto first = EnsureApiPki(dir.path(), Ipv4Address::FromOctets(10, 66, 0, 1), "appliance");
  ASSERT_TRUE(first.ok());
  auto second = EnsureApiPki(dir.path(), Ipv4Address::FromOctets(192, 168, 7, 2), "appliance", 50200);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->ca_cert_pem, second->ca_cert_pem);
  EXPECT_NE(first->server_cert_pem, second->server_cert_pem);
  EXPECT_NE(OpensslText(dir.path() + "/pki/server.crt").find("IP Address:192.168.7.2"), std::string::npos);
  EXPECT_EQ(LoadClientConfig(second->client_config_path)->endpoint, "192.168.7.2:50200");
}

bool PkiFileExists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

TEST(MgmtPki, SharedCaIsOneForEveryApplianceEachWithItsOwnServerCertificate) {
  TempDir a, b;
  // Appliance a had its own CA before (SQLite): the one offered, and kept,
  // so client configs made with it keep working.
  auto before = EnsureApiPki(a.path(), Ipv4Address::FromOctets(10, 66, 0, 2), "mpx-a");
  ASSERT_TRUE(before.ok());
  MapSharedValues shared;
  auto pa = EnsureApiPki(a.path(), Ipv4Address::FromOctets(10, 66, 0, 2), "mpx-a", 50100, &shared);
  ASSERT_TRUE(pa.ok()) << pa.status().ToString();
  EXPECT_EQ(pa->ca_cert_pem, before->ca_cert_pem);
  EXPECT_EQ(pa->server_cert_pem, before->server_cert_pem);  // same CA: nothing reissued
  auto pb = EnsureApiPki(b.path(), Ipv4Address::FromOctets(10, 66, 0, 3), "mpx-b", 50100, &shared);
  ASSERT_TRUE(pb.ok()) << pb.status().ToString();
  EXPECT_EQ(pb->ca_cert_pem, pa->ca_cert_pem);
  EXPECT_TRUE(pb->ca_key_pem == pa->ca_key_pem);
  // Each its own server certificate, with its own names, from the shared CA.
  EXPECT_NE(pb->server_cert_pem, pa->server_cert_pem);
  EXPECT_TRUE(CertificateCovers(pb->server_cert_pem, pa->ca_cert_pem, {"10.66.0.3"}, {"mpx-b"}));
  EXPECT_FALSE(CertificateCovers(pb->server_cert_pem, pa->ca_cert_pem, {"10.66.0.2"}, {}));
  // The key is in the store only: no ca.key in either stateDir.
  EXPECT_FALSE(PkiFileExists(a.path() + "/pki/ca.key"));
  EXPECT_FALSE(PkiFileExists(b.path() + "/pki/ca.key"));
  EXPECT_TRUE(PkiFileExists(b.path() + "/pki/ca.crt"));
  auto decoded = DecodeCaBundle(shared.values.at(kSharedApiCaName).value);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->cert_pem, pa->ca_cert_pem);
  // A restart reuses everything.
  auto again = EnsureApiPki(b.path(), Ipv4Address::FromOctets(10, 66, 0, 3), "mpx-b", 50100, &shared);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->server_cert_pem, pb->server_cert_pem);
  EXPECT_EQ(again->admin_cert_pem, pb->admin_cert_pem);

  // An appliance whose own CA lost the race switches to the shared one:
  // its certificates are reissued from it.
  TempDir c;
  ASSERT_TRUE(EnsureApiPki(c.path(), Ipv4Address::FromOctets(10, 66, 0, 4), "mpx-c").ok());
  auto pc = EnsureApiPki(c.path(), Ipv4Address::FromOctets(10, 66, 0, 4), "mpx-c", 50100, &shared);
  ASSERT_TRUE(pc.ok());
  EXPECT_EQ(pc->ca_cert_pem, pa->ca_cert_pem);
  EXPECT_TRUE(CertificateCovers(pc->server_cert_pem, pa->ca_cert_pem, {"10.66.0.4"}, {"mpx-c"}));
  EXPECT_TRUE(CertificateCovers(pc->admin_cert_pem, pa->ca_cert_pem, {}, {}));
  EXPECT_FALSE(PkiFileExists(c.path() + "/pki/ca.key"));
}

TEST(MgmtPki, DamagedSharedCaIsAnErrorNeverALocalCa) {
  auto ca = IssueCa("test CA");
  auto other = IssueCa("other CA");
  ASSERT_TRUE(ca.ok() && other.ok());
  LeafSpec leaf_spec;
  leaf_spec.common_name = "leaf";
  auto leaf = IssueLeaf(*ca, leaf_spec);
  ASSERT_TRUE(leaf.ok());
  const std::string key = ca->key_pem.Reveal();
  const std::vector<std::string> bad = {
      "",
      key,                                                // no certificate
      ca->cert_pem,                                       // no key
      ca->cert_pem + other->key_pem.Reveal(),             // not its key
      leaf->cert_pem + leaf->key_pem.Reveal(),            // not a CA
      ca->cert_pem + ca->cert_pem + key,                  // two certificates
      ca->cert_pem + "junk\n" + key,                      // text between
      ca->cert_pem + key + "junk",                        // text after
      ca->cert_pem + key + key,                           // two keys
      ca->cert_pem + "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
      ca->cert_pem.substr(0, ca->cert_pem.size() / 2) + key,
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    auto d = DecodeCaBundle(bad[i]);
    ASSERT_FALSE(d.ok()) << i;
    EXPECT_EQ(d.status().code(), ErrorCode::kDataLoss) << i;
    EXPECT_EQ(d.status().message().find("PRIVATE KEY"), std::string::npos) << i;
  }
  auto good = DecodeCaBundle(EncodeCaBundle(*ca).Reveal());
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->cert_pem, ca->cert_pem);
  EXPECT_TRUE(good->key_pem == ca->key_pem);

  TempDir dir;
  MapSharedValues shared;
  shared.values[kSharedApiCaName] = {ca->cert_pem + other->key_pem.Reveal(), 1};
  auto pki = EnsureApiPki(dir.path(), Ipv4Address::FromOctets(10, 66, 0, 2), "mpx-a", 50100, &shared);
  ASSERT_FALSE(pki.ok());
  EXPECT_EQ(pki.status().code(), ErrorCode::kDataLoss);
  EXPECT_FALSE(PkiFileExists(dir.path() + "/pki/ca.key"));
  EXPECT_FALSE(PkiFileExists(dir.path() + "/pki/server.crt"));
}

// Two appliances with one shared CA share the ledger of issued client configs
// and the deny list: a config made on one is listed on the other, a name is
// taken on both, and a revocation on one is refused by the other.
TEST(MgmtPki, SharedLedgerAndDenyListCountOnEveryAppliance) {
  TempDir a, b;
  // Appliance a ran alone before and revoked a serial then: it stays revoked.
  ASSERT_TRUE(EnsureApiPki(a.path(), Ipv4Address::FromOctets(10, 66, 0, 2), "mpx-a").ok());
  {
    ClientCertificates alone(*EnsureApiPki(a.path(), Ipv4Address::FromOctets(10, 66, 0, 2), "mpx-a"));
    ASSERT_TRUE(alone.Load().ok());
    auto old = alone.Issue("old", ApiRole::kViewer, 30, "admin");
    ASSERT_TRUE(old.ok());
    ASSERT_TRUE(alone.Revoke("old", "admin", "").ok());
  }
  MapSharedValues shared;
  auto pa = EnsureApiPki(a.path(), Ipv4Address::FromOctets(10, 66, 0, 2), "mpx-a", 50100, &shared);
  auto pb = EnsureApiPki(b.path(), Ipv4Address::FromOctets(10, 66, 0, 3), "mpx-b", 50100, &shared);
  ASSERT_TRUE(pa.ok() && pb.ok());
  ClientCertificates ca(*pa), cb(*pb);
  ASSERT_TRUE(ca.Load().ok());
  ASSERT_TRUE(cb.Load().ok());
  ASSERT_TRUE(ca.shared() && cb.shared());
  auto listed = cb.List();
  const auto old = std::find_if(listed.begin(), listed.end(), [](const auto& e) { return e.name == "old"; });
  ASSERT_NE(old, listed.end());
  EXPECT_NE(old->revoked_unix, 0);
  EXPECT_EQ(cb.CheckNotRevoked(old->serial).code(), ErrorCode::kPermissionDenied);
  // Both appliances' admin certificates are listed (and revocable) everywhere.
  int admins = 0;
  for (const auto& e : listed) admins += e.name == "admin" ? 1 : 0;
  EXPECT_EQ(admins, 2);

  auto ops = ca.Issue("ops", ApiRole::kOperator, 30, "admin");
  ASSERT_TRUE(ops.ok()) << ops.status().ToString();
  EXPECT_EQ(cb.Issue("ops", ApiRole::kViewer, 30, "admin").status().code(), ErrorCode::kAlreadyExists);
  EXPECT_TRUE(cb.CheckNotRevoked(ops->entry.serial).ok());  // b read the deny list just now
  EXPECT_TRUE(ca.CheckNotRevoked(ops->entry.serial).ok());

  // Revoked on b: refused by a once a reads the deny list again (at most
  // kSharedReadInterval later).
  ASSERT_TRUE(cb.Revoke("ops", "admin", "").ok());
  EXPECT_EQ(cb.CheckNotRevoked(ops->entry.serial).code(), ErrorCode::kPermissionDenied);
  std::this_thread::sleep_for(kSharedReadInterval + std::chrono::milliseconds(100));
  EXPECT_EQ(ca.CheckNotRevoked(ops->entry.serial).code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(ca.Revoke("ops", "admin", "").status().code(), ErrorCode::kNotFound);  // no valid "ops" left
  EXPECT_NE(shared.values.at(kSharedRevokedName).value.find(ops->entry.serial), std::string::npos);

  // The store unreachable: the last deny list read still applies, the API
  // still answers, nothing can be issued or revoked.
  auto fine = ca.Issue("fine", ApiRole::kViewer, 30, "admin");
  ASSERT_TRUE(fine.ok());
  shared.fail = true;
  std::this_thread::sleep_for(kSharedReadInterval + std::chrono::milliseconds(100));
  EXPECT_EQ(ca.CheckNotRevoked(ops->entry.serial).code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(ca.CheckNotRevoked(fine->entry.serial).ok());
  EXPECT_EQ(ca.Issue("later", ApiRole::kViewer, 30, "admin").status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(ca.Revoke("fine", "admin", "").status().code(), ErrorCode::kUnavailable);
  shared.fail = false;

  // A damaged deny list in the store: every call refused until it is fixed.
  const auto good = shared.values.at(kSharedRevokedName);
  shared.values[kSharedRevokedName] = {"not a serial\n", good.revision + 100};
  std::this_thread::sleep_for(kSharedReadInterval + std::chrono::milliseconds(100));
  EXPECT_EQ(cb.CheckNotRevoked(fine->entry.serial).code(), ErrorCode::kUnavailable);
  shared.values[kSharedRevokedName] = {good.value, good.revision + 101};
  std::this_thread::sleep_for(kSharedReadInterval + std::chrono::milliseconds(100));
  EXPECT_TRUE(cb.CheckNotRevoked(fine->entry.serial).ok());
}

TEST(MgmtClientConfig, RoundTripAndStrictParse) {
  ClientConfig c{"10.0.0.1:50100", "CA PEM\nline2\n", "CRT\n", Secret("KEY\n")};
  auto back = ParseClientConfig(RenderClientConfig(c));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->endpoint, c.endpoint);
  EXPECT_EQ(back->ca_pem, c.ca_pem);
  EXPECT_EQ(back->cert_pem, c.cert_pem);
  EXPECT_EQ(back->key_pem, c.key_pem);
  EXPECT_FALSE(ParseClientConfig("endpoint: a:1\nca: x\ncrt: y\n").ok());            // no key
  EXPECT_FALSE(ParseClientConfig("endpoint: a:1\nca: x\ncrt: y\nkey: z\nkye: 1").ok());  // typo
  EXPECT_FALSE(ParseClientConfig("[1, 2]").ok());
  EXPECT_FALSE(ParseClientConfig("endpoint: {a: 1}").ok());
  EXPECT_FALSE(ParseClientConfig("a: [").ok());
  // A stray CR inside a value (found by fuzz_mgmt_client_config) is refused…
  EXPECT_FALSE(ParseClientConfig("endpoint: \"a:1\"\nca: \"x\\ry\"\ncrt: y\nkey: z\n").ok());
  // …while a file saved with CRLF line breaks is fine.
  auto crlf = ParseClientConfig("endpoint: a:1\r\nca: |\r\n  x\r\n  y\r\ncrt: y\r\nkey: z\r\n");
  ASSERT_TRUE(crlf.ok()) << crlf.status().ToString();
  EXPECT_EQ(crlf->ca_pem, "x\ny\n");
}

}  // namespace
}  // namespace metalpxe::testing
