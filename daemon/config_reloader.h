#pragma once
// Applies a new inventory (and profiles/boot policy) while the appliance
// runs: parse, validate, swap the ConfigSource snapshot atomically. A broken
// file keeps the running snapshot and logs every problem, so a bad commit to
// the inventory repo never takes the appliance down.
#include <functional>
#include <array>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/config_loader.h"
#include "core/config_source.h"
#include "core/result.h"

namespace metalpxe {

class ConfigReloader {
 public:
  using OnReload = std::function<void(const AppConfig& fresh)>;
  ConfigReloader(SwappableConfigSource& source, OnReload on_reload = {});

  // Returns whether the new config was applied; logs why not.
  bool Reload(const char* cause);
  // Adjusts every reloaded config before it is swapped in (the upgrade pins).
  void SetAdjust(std::function<void(AppConfig&)> adjust) { adjust_ = std::move(adjust); }
  std::uint64_t applied() const { return applied_; }
  std::uint64_t refused() const { return refused_; }

 private:
  SwappableConfigSource& source_;
  OnReload on_reload_;
  std::function<void(AppConfig&)> adjust_;
  std::uint64_t applied_ = 0;
  std::uint64_t refused_ = 0;
};

// Watches the config file and the inventory file with inotify (their
// directories, since editors and `git pull` replace files by rename) and calls
// `changed` once per burst of changes, after a short quiet period.
class ConfigFileWatcher {
 public:
  ConfigFileWatcher(boost::asio::io_context& io, std::vector<std::string> files, std::function<void()> changed);
  ~ConfigFileWatcher();
  Status Start();
  void Stop();

 private:
  void ReadEvents();
  boost::asio::io_context& io_;
  std::vector<std::string> files_;
  std::function<void()> changed_;
  boost::asio::posix::stream_descriptor fd_;
  boost::asio::steady_timer debounce_;
  std::vector<std::pair<int, std::string>> watches_;  // wd, basename
  std::array<char, 8192> buf_{};
};

}  // namespace metalpxe
