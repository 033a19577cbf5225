#pragma once
// Publishes each profile's kernel and initramfs (and a secureBoot uki
// profile's signed UKI) under one served directory,
// <stateDir>/assets/profiles/<profile>/{vmlinuz,initramfs.xz,secureboot-uki.efi}, which the HTTP
// server exposes as /assets/profiles/…. Files are hard-linked (copied across
// file systems) and renamed into place, so a machine mid-download keeps the
// file it started with even when a reload or a new download replaces it, and
// the HTTP server never follows a link out of its root.
#include <functional>
#include <string>

#include "core/config.h"
#include "core/provisioning/boot_urls.h"  // ProfileAssetsDir
#include "images/asset_cache.h"

namespace metalpxe {

// Publishes one resolved profile (blocking file work: call off the loop).
Status PublishProfileAssets(const std::string& served_dir, const std::string& profile,
                            const BootAssetPaths& paths);

// Resolves every profile of `config` through the cache (downloads run on the
// cache's worker) and publishes each when ready; `done` reports each outcome.
void PublishAllProfiles(AssetCache& cache, const AppConfig& config,
                        std::function<void(const std::string& profile, const Status&)> done);

}  // namespace metalpxe
