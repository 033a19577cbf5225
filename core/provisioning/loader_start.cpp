#include "core/provisioning/loader_start.h"

#include "core/provisioning/boot_files.h"
#include "core/provisioning/boot_urls.h"

namespace metalpxe {

std::string LoaderFileOf(std::string_view fetched) {
  if (fetched.starts_with(kAssetsPrefix) && fetched.substr(kAssetsPrefix.size()).starts_with('/'))
    fetched.remove_prefix(kAssetsPrefix.size());
  while (fetched.starts_with('/')) fetched.remove_prefix(1);
  for (const LoaderRow& row : LoaderTable())
    if (fetched == row.file) return std::string(fetched);
  return "";
}

std::optional<std::string> LoaderNotStarted(const LoaderHandout& h, std::chrono::steady_clock::time_point now,
                                            std::chrono::seconds bound) {
  if (h.file.empty() || h.next_step_seen) return std::nullopt;
  const auto after = std::chrono::duration_cast<std::chrono::seconds>(now - h.at);
  if (after < std::chrono::seconds(0) || after > bound) return std::nullopt;
  std::string s = "loader " + h.file + " not started: the firmware asked DHCP again " +
                  std::to_string(after.count()) + " s after fetching it, and nothing asked for its next step; ";
  if (h.file == kShimFile)
    s += "the firmware may not trust Microsoft's UEFI CA that signs shim (some machines ship without it)";
  else
    s += "Secure Boot may be on: mark the machine secureBoot";
  return s;
}

}  // namespace metalpxe
