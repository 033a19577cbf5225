#pragma once
// Turns a profile (core/config.h ProfileConfig) into the two local files
// iPXE will be served: a kernel and an initramfs.
//
// A profile names either local files (`kernel`, `initramfs`), which are
// checked (and their digests verified when configured), or an Image Factory
// build (`talosVersion` + `schematic`, with sha256 digests or, without them,
// the first download's digest pinned beside the file), which is
// downloaded once into
//   <state_dir>/cache/images/<schematic>/<version>/kernel-<arch>
//   <state_dir>/cache/images/<schematic>/<version>/initramfs-<arch>.xz
// and, for a secureBoot uki profile, its signed UKI
//   <state_dir>/cache/images/<schematic>/<version>/metal-<arch>-secureboot-uki.efi
// through verified_download.h (resume, sha256, fsync + atomic rename;
// nothing left behind on failure). Cached files are re-hashed once per
// process before first use and never downloaded again while they match.
//
// Downloads take minutes: event-loop code calls ResolveAsync, which runs on
// the cache's own worker thread; Resolve blocks (tests, CLI, start-up).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/config.h"
#include "core/result.h"
#include "images/verified_download.h"

namespace metalpxe {

struct BootAssetPaths {
  std::string kernel;
  std::string initramfs;
  std::string uki;  // secureBoot uki: the signed UKI (the profile's file, or Image Factory's); else empty
};

struct DiskImageFile {
  std::string path;
  std::string sha256;  // of the compressed file, as verified in the cache
  std::string compression = "zstd";
};

struct AssetProgress {
  std::string profile;
  std::string file;          // "kernel-amd64", "initramfs-amd64.xz"
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;  // 0 while unknown
};
// Runs on the thread doing the download; must not block.
using AssetProgressCallback = std::function<void(const AssetProgress&)>;
using AssetResolvedCallback = std::function<void(Result<BootAssetPaths>)>;

struct AssetCacheOptions {
  DownloadOptions download;
};

class AssetCache {
 public:
  explicit AssetCache(std::string state_dir, AssetCacheOptions options = {});
  // Cancels a running download (its partial is removed), fails queued
  // requests with kUnavailable, and waits for the worker.
  ~AssetCache();
  AssetCache(const AssetCache&) = delete;
  AssetCache& operator=(const AssetCache&) = delete;

  Result<BootAssetPaths> Resolve(const ProfileConfig& profile, const AssetProgressCallback& progress = {});

  // Resolve on the worker thread, one request at a time in submission
  // order; `done` runs on the worker thread (post it back to your loop).
  void ResolveAsync(ProfileConfig profile, AssetProgressCallback progress, AssetResolvedCallback done);

  // The profile's Talos metal disk image (Image Factory metal-<arch>.raw.zst),
  // downloaded once beside its kernel and pinned like it; blocks. For the
  // Hetzner rescue install (dd from the rescue system, fed from here).
  Result<DiskImageFile> ResolveDiskImage(const ProfileConfig& profile);

  // Where a download profile's files live.
  std::string CacheDirFor(const ProfileConfig& profile) const;

 private:
  struct Job {
    ProfileConfig profile;
    AssetProgressCallback progress;
    AssetResolvedCallback done;
  };
  struct VerifiedStamp {
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::uint64_t inode = 0;
    std::string sha256;
  };

  Result<BootAssetPaths> ResolveLocal(const ProfileConfig& profile);
  Result<BootAssetPaths> ResolveDownload(const ProfileConfig& profile, const AssetProgressCallback& progress);
  Status EnsureDownloaded(const ProfileConfig& profile, const std::string& file, const std::string& sha256,
                          const AssetProgressCallback& progress);
  // Ok when `path` hashes to `sha256` (remembered per size/mtime/inode).
  // kNotFound when it does not exist, kDataLoss when it differs.
  Status VerifyFile(const std::string& path, const std::string& sha256);
  std::shared_ptr<std::mutex> FileLock(const std::string& path);
  void RunWorker();

  const std::string state_dir_;
  const AssetCacheOptions options_;
  std::atomic<bool> cancel_{false};

  std::mutex verified_mu_;
  std::map<std::string, VerifiedStamp> verified_;
  std::mutex locks_mu_;
  std::map<std::string, std::shared_ptr<std::mutex>> file_locks_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::thread worker_;  // started by the first ResolveAsync
};

}  // namespace metalpxe
