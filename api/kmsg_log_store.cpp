#include "api/kmsg_log_store.h"

#include <cstdio>
#include <memory>
#include <system_error>

#include "core/log.h"

namespace metalpxe {

std::string SanitizeLogKey(std::string_view key) {
  std::string out;
  for (char c : key.substr(0, 128)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_';
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || out == "." || out == "..") out = "_" + out;
  return out;
}

namespace {
// What a line costs in the ring: its text fields, and a fixed overhead for
// the rest of the struct and the deque slot.
std::size_t LineBytes(const KmsgLine& l) {
  return l.msg.size() + l.facility.size() + l.priority.size() + l.talos_level.size() + l.talos_time.size() + 128;
}
}  // namespace

KmsgLogStore::KmsgLogStore(KmsgLogStoreOptions options) : options_(std::move(options)) {
  if (options_.ring_lines == 0) options_.ring_lines = 1;
  if (options_.ring_bytes == 0) options_.ring_bytes = 1;
  if (options_.max_keys == 0) options_.max_keys = 1;
  if (options_.max_unknown_keys == 0) options_.max_unknown_keys = 1;
  if (!options_.log_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options_.log_dir, ec);
    if (ec) spdlog::error("kmsg logs: cannot create {}: {}", options_.log_dir.string(), ec.message());
  }
}

std::filesystem::path KmsgLogStore::FileFor(const std::string& key) const {
  return options_.log_dir / (SanitizeLogKey(key) + ".log");
}

std::optional<std::string> KmsgLogStore::EvictFor(KmsgKeyKind kind) {
  const std::size_t cap = kind == KmsgKeyKind::kKnownMachine ? options_.max_keys : options_.max_unknown_keys;
  std::size_t count = 0;
  auto oldest = rings_.end();
  for (auto r = rings_.begin(); r != rings_.end(); ++r) {
    if (r->second.kind != kind) continue;
    ++count;
    if (oldest == rings_.end() || r->second.last_write < oldest->second.last_write) oldest = r;
  }
  if (count < cap || oldest == rings_.end()) return std::nullopt;
  std::string key = oldest->first;
  rings_.erase(oldest);
  return key;
}

void KmsgLogStore::Append(const std::string& key, std::vector<Entry> entries, KmsgKeyKind kind) {
  if (entries.empty()) return;
  std::optional<std::string> evicted;
  {
    std::lock_guard lock(ring_mu_);
    auto it = rings_.find(key);
    if (it == rings_.end()) {
      evicted = EvictFor(kind);
      it = rings_.emplace(key, Ring{}).first;
      it->second.kind = kind;
    }
    Ring& ring = it->second;
    ring.last_write = ++write_counter_;
    for (const auto& e : entries) {
      ring.lines.push_back(e.line);
      ring.bytes += LineBytes(e.line);
      while (ring.lines.size() > 1 &&
             (ring.lines.size() > options_.ring_lines || ring.bytes > options_.ring_bytes)) {
        ring.bytes -= LineBytes(ring.lines.front());
        ring.lines.pop_front();
      }
    }
  }
  if (!options_.log_dir.empty()) {
    // An unknown sender's files go with its ring, so their number stays
    // bounded however many addresses send; known machines keep theirs.
    if (evicted && kind == KmsgKeyKind::kUnknownSender) RemoveFiles(*evicted);
    WriteFile(key, entries);
  }
  {
    std::lock_guard lock(follow_mu_);
    for (const auto& [id, sub] : subs_) {
      if (sub.key != key) continue;
      for (const auto& e : entries) sub.fn(e.line);
    }
  }
}

void KmsgLogStore::WriteFile(const std::string& key, const std::vector<Entry>& entries) {
  std::lock_guard lock(file_mu_);
  const auto path = FileFor(key);
  auto size_it = file_sizes_.find(key);
  if (size_it == file_sizes_.end()) {
    std::error_code ec;
    auto existing = std::filesystem::file_size(path, ec);
    size_it = file_sizes_.emplace(key, ec ? 0 : existing).first;
    if (file_sizes_.size() > options_.max_keys * 4) {
      file_sizes_.clear();  // bound the map; sizes are re-learnt from disk
      size_it = file_sizes_.emplace(key, ec ? 0 : existing).first;
    }
  }
  std::uint64_t& size = size_it->second;

  // RAII for the FILE*: closed on every path out.
  auto closer = [](std::FILE* f) {
    if (f) std::fclose(f);
  };
  std::unique_ptr<std::FILE, decltype(closer)> file(nullptr, closer);
  auto open = [&]() -> bool {
    file.reset(std::fopen(path.c_str(), "ab"));
    if (!file) {
      ++file_errors_;
      return false;
    }
    return true;
  };
  if (!open()) return;
  for (const auto& e : entries) {
    const std::uint64_t need = e.raw.size() + 1;
    if (size > 0 && size + need > options_.file_max_bytes) {
      // Rotate: keep exactly one previous file, so a machine costs at most
      // two caps of disk.
      file.reset();
      std::error_code ec;
      auto rotated = path;
      rotated += ".1";
      std::filesystem::rename(path, rotated, ec);
      if (ec) {
        ++file_errors_;
        std::filesystem::remove(path, ec);
      }
      size = 0;
      if (!open()) return;
    }
    if (std::fwrite(e.raw.data(), 1, e.raw.size(), file.get()) != e.raw.size() || std::fputc('\n', file.get()) == EOF) {
      ++file_errors_;
      return;
    }
    size += need;
  }
}

void KmsgLogStore::RemoveFiles(const std::string& key) {
  std::lock_guard lock(file_mu_);
  std::error_code ec;
  const auto path = FileFor(key);
  std::filesystem::remove(path, ec);
  auto rotated = path;
  rotated += ".1";
  std::filesystem::remove(rotated, ec);
  file_sizes_.erase(key);
}

std::vector<KmsgLine> KmsgLogStore::Tail(const std::string& key, std::size_t n) const {
  std::lock_guard lock(ring_mu_);
  auto it = rings_.find(key);
  if (it == rings_.end()) return {};
  const auto& lines = it->second.lines;
  std::size_t start = lines.size() > n ? lines.size() - n : 0;
  return {lines.begin() + static_cast<std::ptrdiff_t>(start), lines.end()};
}

std::vector<std::string> KmsgLogStore::Keys() const {
  std::lock_guard lock(ring_mu_);
  std::vector<std::string> keys;
  for (const auto& [k, _] : rings_) keys.push_back(k);
  return keys;
}

KmsgLogStore::SubscriptionId KmsgLogStore::Subscribe(const std::string& key, Follower follower) {
  std::lock_guard lock(follow_mu_);
  SubscriptionId id = next_sub_++;
  subs_.emplace(id, Sub{key, std::move(follower)});
  return id;
}

void KmsgLogStore::Unsubscribe(SubscriptionId id) {
  std::lock_guard lock(follow_mu_);
  subs_.erase(id);
}

std::uint64_t KmsgLogStore::file_errors() const {
  std::lock_guard lock(file_mu_);
  return file_errors_;
}

}  // namespace metalpxe
