#pragma once
// Helpers shared by the store tests: a scratch directory removed at the end,
// and a blocking wrapper around a write's durable callback.
#include <filesystem>
#include <future>
#include <string>

#include <stdlib.h>

#include "core/result.h"
#include "core/store.h"

namespace metalpxe::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mpx-store-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }

 private:
  std::string path_;
};

// Gives a DurableCallback and waits for it.
class Durable {
 public:
  DurableCallback Callback() {
    return [p = promise_](const Status& st) { p->set_value(st); };
  }
  Status Wait() { return future_.get(); }

 private:
  std::shared_ptr<std::promise<Status>> promise_ = std::make_shared<std::promise<Status>>();
  std::future<Status> future_ = promise_->get_future();
};

}  // namespace metalpxe::testing
