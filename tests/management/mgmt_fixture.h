#pragma once
// A live management API for tests: fresh PKI in a temp state dir, the real
// ManagementServer on 127.0.0.1:<free port> over a FakeBackend, and a client
// config pointing metalpxectl at it.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api/management/client_config.h"
#include "api/management/management_service.h"
#include "api/management/pki.h"
#include "tests/management/fake_backend.h"
#include "tests/support/paths.h"
#include "tests/support/subprocess.h"

namespace metalpxe::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mgmt-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string CtlPath() { return BinaryDir() + "/cli/metalpxectl"; }

// Writes a client config for `endpoint` from the admin config in `pki`.
inline std::string WriteConfigFor(const ApiPki& pki, const std::string& endpoint, const std::string& path) {
  auto config = LoadClientConfig(pki.client_config_path);
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  config->endpoint = endpoint;
  EXPECT_TRUE(WritePrivateFile(path, RenderClientConfig(*config)).ok());
  return path;
}

class LiveServer : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = EnsureApiPki(state_.path(), Ipv4Address::FromOctets(10, 66, 0, 1), "metalpxe-test");
    ASSERT_TRUE(pki.ok()) << pki.status().ToString();
    pki_ = *pki;
    server_ = std::make_unique<ManagementServer>("127.0.0.1:0", pki_, backend_);
    ASSERT_TRUE(server_->Start().ok());
    endpoint_ = "127.0.0.1:" + std::to_string(server_->port());
    config_ = WriteConfigFor(pki_, endpoint_, state_.path() + "/client.metalpxeconfig");
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  // metalpxectl --config <ours> args...
  CommandResult Ctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {CtlPath(), "--config", config_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, std::chrono::seconds(60));
  }
  Subprocess CtlStart(std::vector<std::string> args) {
    std::vector<std::string> argv = {CtlPath(), "--config", config_};
    argv.insert(argv.end(), args.begin(), args.end());
    return Subprocess::Start(argv);
  }

  TempDir state_;
  ApiPki pki_;
  FakeBackend backend_;
  std::unique_ptr<ManagementServer> server_;
  std::string endpoint_;
  std::string config_;
};

}  // namespace metalpxe::testing
