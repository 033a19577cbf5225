// The `store:` section: the SQLite default, an etcd cluster read with its
// certificate files, and every mistake in deploy/examples/broken/store-*.yaml
// reported at its line and column.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/config_loader.h"
#include "tests/support/paths.h"

namespace metalpxe {
namespace {

std::string Examples() { return testing::SourceDir() + "/deploy/examples"; }

std::vector<std::string> ProblemsOf(const std::string& path) {
  LoadedConfig loaded = LoadAppConfig(path);
  std::vector<std::string> out;
  for (const auto& p : loaded.problems) {
    ConfigProblem q = p;
    q.file = q.file.substr(q.file.rfind('/') + 1);
    out.push_back(q.ToString());
  }
  return out;
}

// A scratch directory with a config that names files next to it.
class ScratchConfig {
 public:
  ScratchConfig() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mpx-storecfg-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
    dir_ = tmpl;
  }
  ~ScratchConfig() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  // A minimal valid config with `store_section` appended.
  std::string Config(const std::string& store_section) const {
    return Write("metalpxe.yaml", "server:\n  address: 10.66.0.1\ndhcp:\n  mode: off\nprofiles:\n  default:\n"
                                  "    talosVersion: v1.9.5\n    schematic: "
                                  "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba\n"
                                  "    configs:\n      worker: " +
                                      Examples() + "/talos/worker.yaml\n" + store_section);
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

TEST(StoreConfig, SqliteIsTheDefault) {
  LoadedConfig loaded = LoadAppConfig(Examples() + "/metalpxe.yaml");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded.config->store.type, StoreType::kSqlite);
  ScratchConfig s;
  LoadedConfig none = LoadAppConfig(s.Config(""));
  ASSERT_TRUE(none.ok()) << none.problems.at(0).ToString();
  EXPECT_EQ(none.config->store.type, StoreType::kSqlite);
  EXPECT_TRUE(none.config->store.endpoints.empty());
}

TEST(StoreConfig, EtcdWithCertificatesIsRead) {
  ScratchConfig s;
  s.Write("ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  s.Write("client.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  s.Write("client.key", "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n");
  LoadedConfig loaded = LoadAppConfig(s.Config("store:\n  type: etcd\n  endpoints:\n"
                                               "    - https://10.66.0.11:2379\n"
                                               "    - https://etcd-2.example.org\n"
                                               "    - https://[fd00::13]:2380/\n"
                                               "  prefix: /site-a\n  ca: ca.crt\n  cert: client.crt\n"
                                               "  key: client.key\n"));
  ASSERT_TRUE(loaded.ok()) << loaded.problems.at(0).ToString();
  const StoreConfig& c = loaded.config->store;
  EXPECT_EQ(c.type, StoreType::kEtcd);
  ASSERT_EQ(c.endpoints.size(), 3u);
  EXPECT_TRUE(c.tls());
  EXPECT_EQ(c.endpoints[0].Target(), "10.66.0.11:2379");
  EXPECT_EQ(c.endpoints[1].Target(), "etcd-2.example.org:2379");  // etcd's client port by default
  EXPECT_EQ(c.endpoints[2].Target(), "[fd00::13]:2380");
  EXPECT_EQ(c.prefix, "/site-a/");  // always a directory-like prefix
  EXPECT_EQ(c.ca_file, s.dir() + "/ca.crt");  // relative to the config file
  EXPECT_EQ(c.cert_file, s.dir() + "/client.crt");
  EXPECT_EQ(c.key_file, s.dir() + "/client.key");
}

TEST(StoreConfig, EtcdMistakesPointAtTheirLine) {
  const std::string not_a_cert = Examples() + "/broken/../machines.yaml";
  EXPECT_EQ(ProblemsOf(Examples() + "/broken/store-etcd.yaml"),
            (std::vector<std::string>{
                "store-etcd.yaml:15:7: store.endpoints[1]: 'ftp://10.66.0.12:2379' is not an etcd URL: it must "
                "start with http:// or https://",
                "store-etcd.yaml:16:7: store.endpoints[2]: mixes http and https; every endpoint of one cluster "
                "uses the same scheme",
                "store-etcd.yaml:17:7: store.endpoints[3]: 'https://10.66.0.14:99999' is not an etcd URL: port "
                "99999 is out of range",
                "store-etcd.yaml:18:7: store.endpoints[4]: https://10.66.0.11:2379 is listed twice",
                "store-etcd.yaml:19:7: store.endpoints[5]: 'https://10.66.0.15:2379/v3/kv' is not an etcd URL: "
                "only scheme://host[:port] is allowed (no path, query, user or spaces)",
                "store-etcd.yaml:20:11: store.prefix: 'metalpxe' must start with '/' and hold printable characters "
                "without spaces (e.g. /metalpxe/)",
                "store-etcd.yaml:21:7: store.ca: /nonexistent/etcd-ca.crt does not exist",
                "store-etcd.yaml:22:3: store.cert needs store.key too (a client certificate and its key go "
                "together)",
                "store-etcd.yaml:22:9: store.cert: " + not_a_cert + " holds no PEM certificate (-----BEGIN "
                "CERTIFICATE-----)",
                "store-etcd.yaml:23:3: unknown key 'store.timeout'",
            }));
}

TEST(StoreConfig, UnknownTypeIncompleteEtcdAndEtcdKeysWithoutEtcd) {
  EXPECT_EQ(ProblemsOf(Examples() + "/broken/store-type.yaml"),
            (std::vector<std::string>{
                "store-type.yaml:12:9: store.type: 'postgres' is not one of sqlite | etcd",
            }));
  const std::string talos = Examples() + "/broken/../talos/worker.yaml";
  EXPECT_EQ(ProblemsOf(Examples() + "/broken/store-incomplete.yaml"),
            (std::vector<std::string>{
                "store-incomplete.yaml:12:3: store.endpoints is required with type etcd (e.g. "
                "[https://10.0.0.5:2379])",
                "store-incomplete.yaml:13:3: store.key needs store.cert too (a client certificate and its key go "
                "together)",
                "store-incomplete.yaml:13:8: store.key: " + talos + " holds no PEM private key (-----BEGIN ... "
                "PRIVATE KEY-----)",
            }));
  EXPECT_EQ(ProblemsOf(Examples() + "/broken/store-sqlite.yaml"),
            (std::vector<std::string>{
                "store-sqlite.yaml:12:3: store.endpoints applies to type etcd only (store.type is not set, so "
                "sqlite)",
                "store-sqlite.yaml:13:3: store.prefix applies to type etcd only (store.type is not set, so sqlite)",
            }));
}

TEST(StoreConfig, CertificatesOverPlainHttpAreAMistake) {
  ScratchConfig s;
  s.Write("ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  EXPECT_EQ(ProblemsOf(s.Config("store:\n  type: etcd\n  endpoints: [http://10.66.0.11:2379]\n  ca: ca.crt\n")),
            (std::vector<std::string>{"metalpxe.yaml:14:3: store.ca is only used over TLS: the endpoints are "
                                      "http://, use https://"}));
}

TEST(StoreConfig, ChangingTheStoreNeedsARestart) {
  ScratchConfig s;
  const std::string path = s.Config("");
  LoadedConfig running = LoadAppConfig(path);
  ASSERT_TRUE(running.ok());
  s.Config("store:\n  type: etcd\n  endpoints: [http://10.66.0.11:2379]\n");
  ReloadedConfig reloaded = ReloadAppConfig(*running.config);
  ASSERT_TRUE(reloaded.ok()) << reloaded.problems.at(0).ToString();
  EXPECT_EQ(reloaded.restart_needed, std::vector<std::string>{"store"});
  EXPECT_EQ(reloaded.config->store.type, StoreType::kSqlite);  // the running store stays
}

}  // namespace
}  // namespace metalpxe
