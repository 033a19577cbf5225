#include "daemon/config_reloader.h"

#include <sys/inotify.h>
#include <unistd.h>

#include "core/config_paths.h"
#include "core/log.h"

namespace metalpxe {

ConfigReloader::ConfigReloader(SwappableConfigSource& source, OnReload on_reload)
    : source_(source), on_reload_(std::move(on_reload)) {}

bool ConfigReloader::Reload(const char* cause) {
  const auto running = source_.Current();
  ReloadedConfig r = ReloadAppConfig(*running);
  if (!r.ok()) {
    ++refused_;
    spdlog::error("reload ({}) refused, keeping the running inventory ({} machines): {} problem(s)", cause,
                  running->inventory ? running->inventory->machines.size() : 0, r.problems.size());
    for (const auto& p : r.problems) spdlog::error("  {}", p.ToString());
    return false;
  }
  for (const auto& section : r.restart_needed)
    spdlog::warn("reload ({}): changes to the {} section need a restart; running with the old ones", cause, section);
  ++applied_;
  if (adjust_) adjust_(*r.config);
  const std::size_t n = r.config->inventory ? r.config->inventory->machines.size() : 0;
  std::shared_ptr<const AppConfig> fresh = std::move(r.config);
  source_.Swap(fresh);
  spdlog::info("reload ({}): inventory applied, {} machines, {} profiles", cause, n, fresh->profiles.size());
  if (on_reload_) on_reload_(*fresh);
  return true;
}

ConfigFileWatcher::ConfigFileWatcher(boost::asio::io_context& io, std::vector<std::string> files,
                                     std::function<void()> changed)
    : io_(io), files_(std::move(files)), changed_(std::move(changed)), fd_(io), debounce_(io) {}

ConfigFileWatcher::~ConfigFileWatcher() { Stop(); }

Status ConfigFileWatcher::Start() {
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return {ErrorCode::kInternal, "inotify_init1 failed"};
  fd_.assign(fd);
  for (const auto& file : files_) {
    if (file.empty()) continue;
    const std::string dir = DirName(file);
    const std::string base = file.substr(file.rfind('/') + 1);
    const int wd = inotify_add_watch(fd, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE);
    if (wd < 0) return {ErrorCode::kInternal, "cannot watch " + dir};
    watches_.emplace_back(wd, base);
  }
  ReadEvents();
  return Status::Ok();
}

void ConfigFileWatcher::Stop() {
  boost::system::error_code ec;
  debounce_.cancel();
  if (fd_.is_open()) fd_.close(ec);
}

void ConfigFileWatcher::ReadEvents() {
  fd_.async_read_some(boost::asio::buffer(buf_), [this](boost::system::error_code ec, std::size_t n) {
    if (ec) return;  // closed on Stop()
    bool relevant = false;
    for (std::size_t off = 0; off + sizeof(inotify_event) <= n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf_.data() + off);
      const std::string name = ev->len ? std::string(ev->name) : std::string();
      for (const auto& [wd, base] : watches_) relevant |= (wd == ev->wd && name == base);
      off += sizeof(inotify_event) + ev->len;
    }
    if (relevant) {
      // Editors write in several steps: wait for the burst to end.
      debounce_.expires_after(std::chrono::milliseconds(200));
      debounce_.async_wait([this](boost::system::error_code e) {
        if (!e) changed_();
      });
    }
    ReadEvents();
  });
}

}  // namespace metalpxe
