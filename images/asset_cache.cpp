#include "images/asset_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "images/asset_names.h"
#include "images/sha256.h"

#include <fstream>

namespace metalpxe {
namespace {

// Why `path` cannot be served ("" when it can).
std::string UnreadableFile(const std::string& path) {
  struct stat sb {};
  if (stat(path.c_str(), &sb) != 0) return path + ": " + std::strerror(errno);
  if (!S_ISREG(sb.st_mode)) return path + " is not a regular file";
  if (access(path.c_str(), R_OK) != 0) return path + " is not readable: " + std::strerror(errno);
  return "";
}

Status ProfileError(const ProfileConfig& p, const std::string& what) {
  return Status(ErrorCode::kInvalidArgument, "profile '" + p.name + "': " + what);
}

}  // namespace

AssetCache::AssetCache(std::string state_dir, AssetCacheOptions options)
    : state_dir_(std::move(state_dir)), options_(std::move(options)) {}

AssetCache::~AssetCache() {
  std::deque<Job> abandoned;
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
    abandoned.swap(queue_);
  }
  cancel_ = true;
  queue_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  for (auto& job : abandoned) {
    if (job.done) job.done(Status(ErrorCode::kUnavailable, "asset cache shut down before the request ran"));
  }
}

std::string AssetCache::CacheDirFor(const ProfileConfig& p) const {
  return (std::filesystem::path(state_dir_) / "cache" / "images" / p.schematic / p.talos_version).string();
}

Result<BootAssetPaths> AssetCache::Resolve(const ProfileConfig& profile, const AssetProgressCallback& progress) {
  if (!profile.talos_version.empty() || !profile.schematic.empty()) return ResolveDownload(profile, progress);
  if (!profile.kernel.empty() || !profile.initramfs.empty()) return ResolveLocal(profile);
  return ProfileError(profile, "names neither kernel/initramfs files nor a talosVersion and schematic");
}

Result<BootAssetPaths> AssetCache::ResolveLocal(const ProfileConfig& p) {
  if (p.kernel.empty() || p.initramfs.empty()) return ProfileError(p, "needs both kernel and initramfs");
  struct Item {
    const std::string& path;
    const std::string& sha256;
    const char* field;
  };
  for (const Item& item : {Item{p.kernel, p.kernel_sha256, "kernel"}, Item{p.initramfs, p.initramfs_sha256,
                                                                          "initramfs"}}) {
    struct stat sb {};
    if (stat(item.path.c_str(), &sb) != 0) {
      return Status(ErrorCode::kNotFound, "profile '" + p.name + "': " + item.field + " " + item.path + ": " +
                                              std::strerror(errno));
    }
    if (!S_ISREG(sb.st_mode)) {
      return Status(ErrorCode::kInvalidArgument,
                    "profile '" + p.name + "': " + item.field + " " + item.path + " is not a regular file");
    }
    if (access(item.path.c_str(), R_OK) != 0) {
      return Status(ErrorCode::kPermissionDenied, "profile '" + p.name + "': " + item.field + " " + item.path +
                                                      " is not readable: " + std::strerror(errno));
    }
    if (!item.sha256.empty()) {
      // A user's own file is never deleted on mismatch: only reported.
      if (auto st = VerifyFile(item.path, item.sha256); !st.ok()) {
        return Status(st.code(), "profile '" + p.name + "': " + st.message());
      }
    }
  }
  BootAssetPaths paths{p.kernel, p.initramfs, ""};
  if (p.secure_boot == SecureBootChain::kUki) {
    if (p.uki.empty()) return ProfileError(p, "secureBoot uki with local kernel files needs a uki file");
    if (auto why = UnreadableFile(p.uki); !why.empty())
      return Status(ErrorCode::kNotFound, "profile '" + p.name + "': uki " + why);
    if (!p.uki_sha256.empty())
      if (auto st = VerifyFile(p.uki, p.uki_sha256); !st.ok())
        return Status(st.code(), "profile '" + p.name + "': " + st.message());
    paths.uki = p.uki;
  }
  return paths;
}

Result<BootAssetPaths> AssetCache::ResolveDownload(const ProfileConfig& p, const AssetProgressCallback& progress) {
  if (p.talos_version.empty() || p.schematic.empty()) {
    return ProfileError(p, "an Image Factory download needs both talosVersion and schematic");
  }
  for (auto [what, value] : {std::pair{"schematic", &p.schematic}, std::pair{"talosVersion", &p.talos_version},
                             std::pair{"arch", &p.arch}}) {
    if (auto st = CheckPathComponent(what, *value); !st.ok()) return ProfileError(p, st.message());
  }
  for (auto [what, value] : {std::pair{"kernelSha256", &p.kernel_sha256},
                             std::pair{"initramfsSha256", &p.initramfs_sha256}}) {
    // Empty: trust on first use (EnsureDownloaded pins what it gets).
    if (!value->empty() && !IsSha256Hex(*value)) {
      return ProfileError(p, std::string(what) + " must be the 64-hex-digit sha256 of the file (got '" +
                                 value->substr(0, 80) + "')");
    }
  }
  if (p.image_factory.empty()) return ProfileError(p, "imageFactory URL is empty");

  const std::string dir = CacheDirFor(p);
  const std::string kernel = FactoryKernelName(p.arch), initramfs = FactoryInitramfsName(p.arch);
  if (auto st = EnsureDownloaded(p, kernel, p.kernel_sha256, progress); !st.ok()) return st;
  if (auto st = EnsureDownloaded(p, initramfs, p.initramfs_sha256, progress); !st.ok()) return st;
  BootAssetPaths paths{dir + "/" + kernel, dir + "/" + initramfs, ""};
  if (p.secure_boot == SecureBootChain::kUki) {
    // A local uki file wins over the schematic's (a UKI signed with your own key).
    if (!p.uki.empty()) {
      if (!p.uki_sha256.empty())
        if (auto st = VerifyFile(p.uki, p.uki_sha256); !st.ok())
          return Status(st.code(), "profile '" + p.name + "': " + st.message());
      paths.uki = p.uki;
    } else {
      const std::string uki = FactorySecureBootUkiName(p.arch);
      if (auto st = EnsureDownloaded(p, uki, p.uki_sha256, progress); !st.ok()) return st;
      paths.uki = dir + "/" + uki;
    }
  }
  return paths;
}

Result<DiskImageFile> AssetCache::ResolveDiskImage(const ProfileConfig& p) {
  if (p.talos_version.empty() || p.schematic.empty())
    return ProfileError(p, "names local kernel/initramfs files; installMethod image needs talosVersion and "
                           "schematic (the metal image comes from Image Factory), or use installMethod kexec");
  for (auto [what, value] : {std::pair{"schematic", &p.schematic}, std::pair{"talosVersion", &p.talos_version},
                             std::pair{"arch", &p.arch}}) {
    if (auto st = CheckPathComponent(what, *value); !st.ok()) return ProfileError(p, st.message());
  }
  const std::string file = FactoryMetalImageName(p.arch);
  if (auto st = EnsureDownloaded(p, file, "", {}); !st.ok()) return st;
  const std::string path = CacheDirFor(p) + "/" + file;
  std::string pinned;
  std::ifstream(path + ".sha256") >> pinned;
  if (!IsSha256Hex(pinned)) return Status(ErrorCode::kDataLoss, "no pinned digest for " + path);
  if (auto st = VerifyFile(path, pinned); !st.ok()) return st;  // the bytes sent are the verified ones
  return DiskImageFile{path, LowerHex(pinned), "zstd"};
}

Status AssetCache::EnsureDownloaded(const ProfileConfig& p, const std::string& file, const std::string& sha256,
                                    const AssetProgressCallback& progress) {
  const std::string dir = CacheDirFor(p);
  const std::string path = dir + "/" + file;
  // Two profiles may share a build: one download per file at a time.
  auto file_lock = FileLock(path);
  std::lock_guard hold(*file_lock);

  // No digest configured: the first download's digest is pinned beside the
  // file, and every later download (and every re-hash) must match it.
  const std::string pin_path = path + ".sha256";
  std::string pinned = sha256;
  if (pinned.empty()) {
    std::ifstream pin(pin_path);
    std::getline(pin, pinned);
    if (!pinned.empty() && !IsSha256Hex(pinned)) pinned.clear();
  }
  if (pinned.empty()) {
    std::error_code dir_ec;
    std::filesystem::create_directories(dir, dir_ec);
    const std::string url = FactoryAssetUrl(p.image_factory, p.schematic, p.talos_version, file);
    ByteProgress pin_progress;
    if (progress) pin_progress = [&](std::uint64_t done, std::uint64_t total) { progress({p.name, file, done, total}); };
    std::string got;
    unlink(path.c_str());
    Status st = DownloadVerified(url, path, "", options_.download, pin_progress, &cancel_, &got);
    if (!st.ok()) return Status(st.code(), "profile '" + p.name + "': " + st.message());
    const std::string tmp = pin_path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << got << "\n";
      out.flush();
      if (!out) return Status(ErrorCode::kInternal, "cannot write " + tmp);
    }
    if (rename(tmp.c_str(), pin_path.c_str()) != 0) return Status(ErrorCode::kInternal, "cannot write " + pin_path);
    spdlog::warn("images: profile '{}': {} pinned at sha256 {} (trust on first use; set the profile's digest to "
                 "pin it yourself)", p.name, file, got);
    return Status::Ok();
  }

  Status existing = VerifyFile(path, pinned);
  if (existing.ok()) return Status::Ok();
  if (existing.code() != ErrorCode::kNotFound) {
    // A cached file that no longer matches (disk damage, or the profile's
    // digest changed): it cannot be served, so fetch it again.
    spdlog::warn("images: {}; downloading it again", existing.message());
    unlink(path.c_str());
  }

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status(ErrorCode::kUnavailable, "cannot create cache directory " + dir + ": " + ec.message());
  }
  const std::string url = FactoryAssetUrl(p.image_factory, p.schematic, p.talos_version, file);
  spdlog::info("images: profile '{}': downloading {}", p.name, url);
  ByteProgress byte_progress;
  if (progress) {
    byte_progress = [&](std::uint64_t done, std::uint64_t total) { progress({p.name, file, done, total}); };
  }
  Status st = DownloadVerified(url, path, pinned, options_.download, byte_progress, &cancel_);
  if (!st.ok()) {
    // Leave no empty directories behind either (rmdir only removes empty ones).
    rmdir(dir.c_str());
    rmdir(std::filesystem::path(dir).parent_path().c_str());
    return Status(st.code(), "profile '" + p.name + "': " + st.message());
  }
  // Just verified while writing: remember it so the next resolve does not re-hash.
  struct stat sb {};
  if (stat(path.c_str(), &sb) == 0) {
    std::lock_guard lock(verified_mu_);
    verified_[path] = {static_cast<std::uint64_t>(sb.st_size),
                       std::int64_t(sb.st_mtim.tv_sec) * 1'000'000'000 + sb.st_mtim.tv_nsec,
                       static_cast<std::uint64_t>(sb.st_ino), LowerHex(pinned)};
  }
  return Status::Ok();
}

Status AssetCache::VerifyFile(const std::string& path, const std::string& sha256) {
  const std::string expected = LowerHex(sha256);
  struct stat sb {};
  if (stat(path.c_str(), &sb) != 0) {
    return Status(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kUnavailable,
                  "cannot stat " + path + ": " + std::strerror(errno));
  }
  const VerifiedStamp stamp{static_cast<std::uint64_t>(sb.st_size),
                            std::int64_t(sb.st_mtim.tv_sec) * 1'000'000'000 + sb.st_mtim.tv_nsec,
                            static_cast<std::uint64_t>(sb.st_ino), expected};
  {
    std::lock_guard lock(verified_mu_);
    auto it = verified_.find(path);
    if (it != verified_.end() && it->second.size == stamp.size && it->second.mtime_ns == stamp.mtime_ns &&
        it->second.inode == stamp.inode && it->second.sha256 == expected) {
      return Status::Ok();
    }
  }
  auto got = Sha256File(path);
  if (!got.ok()) return got.status();
  if (*got != expected) {
    return Status(ErrorCode::kDataLoss,
                  "sha256 mismatch for " + path + ": expected " + expected + ", got " + *got);
  }
  std::lock_guard lock(verified_mu_);
  verified_[path] = stamp;
  return Status::Ok();
}

std::shared_ptr<std::mutex> AssetCache::FileLock(const std::string& path) {
  std::lock_guard lock(locks_mu_);
  auto& slot = file_locks_[path];
  if (!slot) slot = std::make_shared<std::mutex>();
  return slot;
}

void AssetCache::ResolveAsync(ProfileConfig profile, AssetProgressCallback progress, AssetResolvedCallback done) {
  {
    std::unique_lock lock(queue_mu_);
    if (stopping_) {
      lock.unlock();
      if (done) done(Status(ErrorCode::kUnavailable, "asset cache is shutting down"));
      return;
    }
    queue_.push_back({std::move(profile), std::move(progress), std::move(done)});
    // One worker, started on first use: a config with only local files
    // never needs a thread.
    if (!worker_.joinable()) worker_ = std::thread([this] { RunWorker(); });
  }
  queue_cv_.notify_one();
}

void AssetCache::RunWorker() {
  while (true) {
    Job job;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;  // the destructor answers whatever is still queued
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    Result<BootAssetPaths> result = Resolve(job.profile, job.progress);
    if (!job.done) continue;
    try {
      job.done(std::move(result));
    } catch (const std::exception& e) {
      spdlog::error("images: a resolve callback threw: {}", e.what());
    }
  }
}

}  // namespace metalpxe
