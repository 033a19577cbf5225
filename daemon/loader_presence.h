#pragma once
// Does tftpRoot hold a loader? Asked for every boot client's DHCP request,
// so the answer is kept for a few seconds instead of a stat() per packet;
// a loader copied in (an arm64 iPXE, say) is offered within that time.
// A profile's file ("profiles/<profile>/secureboot-uki.efi", the loader of
// secureBoot uki) is looked up where profiles are published instead.
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "core/provisioning/boot_files.h"
#include "core/provisioning/boot_urls.h"

namespace metalpxe {

class LoaderPresence {
 public:
  LoaderPresence(std::string root, std::string profiles_dir, std::chrono::seconds keep = std::chrono::seconds(5))
      : root_(std::move(root)), profiles_dir_(std::move(profiles_dir)), keep_(keep) {}

  bool Exists(std::string_view file) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    auto [it, fresh] = seen_.try_emplace(std::string(file));
    if (fresh || now - it->second.checked >= keep_) {
      std::error_code ec;
      const bool profile_file = file.starts_with(kProfileTftpPrefix);
      it->second.exists =
          profile_file ? std::filesystem::is_regular_file(
                             std::filesystem::path(profiles_dir_) / file.substr(kProfileTftpPrefix.size()), ec)
                       : std::filesystem::is_regular_file(std::filesystem::path(root_) / file, ec);
      // The signed chain: Debian's files stand in for a copy (boot_files.h).
      if (const auto debian = DebianSignedFile(file); debian && !it->second.exists)
        it->second.exists = std::filesystem::is_regular_file(*debian, ec);
      it->second.checked = now;
    }
    return it->second.exists;
  }

 private:
  struct Seen {
    bool exists = false;
    std::chrono::steady_clock::time_point checked;
  };
  const std::string root_;
  const std::string profiles_dir_;
  const std::chrono::seconds keep_;
  std::mutex mu_;
  std::map<std::string, Seen, std::less<>> seen_;  // the loader table's few names and one UKI per profile
};

}  // namespace metalpxe
