#pragma once
// Where modules get the configuration in force. The daemon swaps in a new
// snapshot when the inventory is reloaded; a module calls Current() per
// request and keeps the shared_ptr for the duration of that request, so a
// reload never changes a config under a request in flight.
#include <atomic>
#include <memory>

#include "core/config.h"

namespace metalpxe {

class ConfigSource {
 public:
  virtual ~ConfigSource() = default;
  virtual std::shared_ptr<const AppConfig> Current() const = 0;
};

// The daemon's implementation (and the one tests use): an atomically swapped snapshot.
class SwappableConfigSource final : public ConfigSource {
 public:
  explicit SwappableConfigSource(std::shared_ptr<const AppConfig> initial) : current_(std::move(initial)) {}
  std::shared_ptr<const AppConfig> Current() const override { return current_.load(); }
  void Swap(std::shared_ptr<const AppConfig> next) { current_.store(std::move(next)); }

 private:
  std::atomic<std::shared_ptr<const AppConfig>> current_;
};

}  // namespace metalpxe
