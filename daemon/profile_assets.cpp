#include "daemon/profile_assets.h"

#include <filesystem>

#include "core/log.h"
#include "core/provisioning/boot_urls.h"

namespace metalpxe {
namespace fs = std::filesystem;

namespace {

Status PlaceFile(const fs::path& source, const fs::path& target) {
  std::error_code ec;
  const fs::path tmp = target.string() + ".tmp";
  fs::remove(tmp, ec);
  fs::create_hard_link(source, tmp, ec);
  if (ec) {  // another file system (or links refused): copy instead
    ec.clear();
    fs::copy_file(source, tmp, fs::copy_options::overwrite_existing, ec);
    if (ec) return {ErrorCode::kInternal, "cannot copy " + source.string() + ": " + ec.message()};
  }
  fs::rename(tmp, target, ec);
  if (ec) return {ErrorCode::kInternal, "cannot place " + target.string() + ": " + ec.message()};
  return Status::Ok();
}

}  // namespace

Status PublishProfileAssets(const std::string& served_dir, const std::string& profile, const BootAssetPaths& paths) {
  const fs::path dir = fs::path(served_dir) / profile;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return {ErrorCode::kInternal, "cannot create " + dir.string() + ": " + ec.message()};
  if (auto st = PlaceFile(paths.kernel, dir / kKernelFileName); !st.ok()) return st;
  if (auto st = PlaceFile(paths.initramfs, dir / kInitramfsFileName); !st.ok()) return st;
  // secureBoot uki: the signed UKI beside them. A profile that is no longer
  // uki loses its UKI, so no machine is handed a stale one.
  if (paths.uki.empty()) {
    fs::remove(dir / kUkiFileName, ec);
    return Status::Ok();
  }
  return PlaceFile(paths.uki, dir / kUkiFileName);
}

void PublishAllProfiles(AssetCache& cache, const AppConfig& config,
                        std::function<void(const std::string& profile, const Status&)> done) {
  const std::string served = ProfileAssetsDir(config.server);
  for (const auto& [name, profile] : config.profiles) {
    cache.ResolveAsync(
        profile,
        [](const AssetProgress& p) {
          if (p.bytes_total && p.bytes_done == p.bytes_total)
            spdlog::info("profile {}: downloaded {} ({} bytes)", p.profile, p.file, p.bytes_total);
        },
        // A copy, not the structured binding: clang 14 cannot capture those.
        [served, name = std::string(name), done](Result<BootAssetPaths> paths) {
          Status st = paths.ok() ? PublishProfileAssets(served, name, *paths) : paths.status();
          done(name, st);
        });
  }
}

}  // namespace metalpxe
