// Inventory hot reload: a good change is applied (by SIGHUP-style call and by
// the file watcher), a broken one keeps the running inventory.
#include <gtest/gtest.h>

#include "tests/support/paths.h"

#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/config_loader.h"
#include "daemon/config_reloader.h"

namespace metalpxe {
namespace {

namespace fs = std::filesystem;

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mpx-reload-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    const std::string examples = testing::SourceDir() + "/deploy/examples";
    Write("metalpxe.yaml", "server:\n  address: 10.66.0.1\ndhcp:\n  mode: proxy\nprofiles:\n  default:\n"
                           "    talosVersion: v1.9.5\n    schematic: "
                           "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba\n"
                           "    configs: {worker: " + examples + "/talos/worker.yaml}\n"
                           "inventory: machines.yaml\n");
    WriteMachines(1);
    auto loaded = LoadAppConfig((dir_ / "metalpxe.yaml").string());
    ASSERT_TRUE(loaded.ok()) << loaded.problems.at(0).ToString();
    source_ = std::make_unique<SwappableConfigSource>(loaded.config);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text) {
    // Write-and-rename, as editors and git do.
    const fs::path tmp = dir_ / (name + ".tmp");
    std::ofstream(tmp) << text;
    fs::rename(tmp, dir_ / name);
  }
  void WriteMachines(int n) {
    std::string text = "machines:\n";
    for (int i = 0; i < n; ++i)
      text += "  - name: w-" + std::to_string(i) + "\n    macs: [\"52:54:00:00:00:0" + std::to_string(i) +
              "\"]\n    role: worker\n";
    Write("machines.yaml", text);
  }
  std::size_t Machines() const { return source_->Current()->inventory->machines.size(); }

  fs::path dir_;
  std::unique_ptr<SwappableConfigSource> source_;
};

TEST_F(ReloadTest, GoodChangeIsApplied) {
  ConfigReloader reloader(*source_);
  WriteMachines(3);
  EXPECT_TRUE(reloader.Reload("test"));
  EXPECT_EQ(Machines(), 3u);
}

TEST_F(ReloadTest, BrokenChangeKeepsTheRunningInventory) {
  ConfigReloader reloader(*source_);
  const auto before = source_->Current();
  Write("machines.yaml", "machines:\n  - name: w-0\n    macs: [\"not-a-mac\"]\n    role: worker\n");
  EXPECT_FALSE(reloader.Reload("test"));
  EXPECT_EQ(source_->Current(), before);
  EXPECT_EQ(reloader.refused(), 1u);
  Write("machines.yaml", "machines: [");
  EXPECT_FALSE(reloader.Reload("test"));
  EXPECT_EQ(Machines(), 1u);
}

TEST_F(ReloadTest, ServerChangesWaitForARestart) {
  ConfigReloader reloader(*source_);
  std::ifstream in(dir_ / "metalpxe.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  text.replace(text.find("10.66.0.1"), 9, "10.66.0.2");
  Write("metalpxe.yaml", text);
  WriteMachines(2);
  EXPECT_TRUE(reloader.Reload("test"));
  EXPECT_EQ(Machines(), 2u);
  EXPECT_EQ(source_->Current()->server.address.ToString(), "10.66.0.1");
}

TEST_F(ReloadTest, WatcherReloadsWhenTheInventoryFileIsReplaced) {
  boost::asio::io_context io;
  ConfigReloader reloader(*source_);
  ConfigFileWatcher watcher(io, {source_->Current()->file, source_->Current()->inventory_file},
                            [&] { reloader.Reload("file changed"); });
  ASSERT_TRUE(watcher.Start().ok());
  boost::asio::steady_timer write_later(io, std::chrono::milliseconds(50));
  write_later.async_wait([&](auto) { WriteMachines(4); });
  // Bounded: give up after 10 s.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Machines() != 4 && std::chrono::steady_clock::now() < deadline) io.run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(Machines(), 4u);
  EXPECT_EQ(reloader.applied(), 1u);  // one burst, one reload
}

}  // namespace
}  // namespace metalpxe
