#pragma once
// Did the first-stage loader a machine was handed start? A firmware that
// refuses it (Secure Boot on, and the unsigned iPXE offered because the
// machine is not marked secureBoot) says so only on its own screen: it goes
// on to its next boot option or starts over, and the next thing metalpxe
// sees of the machine is the firmware's DHCP again, with nothing in between
// asking for the loader's next step (iPXE's DHCP, /boot.ipxe, /ipxe; shim's
// grubx64.efi, GRUB's config). That silence, within a bound, is a refused
// boot, and the machine's timeline says so instead of showing a hang.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace metalpxe {

struct LoaderHandout {
  std::string file;  // the loader fetched, as the table names it ("snponly.efi", "shimx64.efi")
  std::chrono::steady_clock::time_point at;
  bool next_step_seen = false;  // the loader asked for what comes after it
};

// Longer than this between the fetch and the next firmware DHCP proves
// nothing (a person may have switched the machine off and on).
inline constexpr std::chrono::seconds kLoaderStartBound{300};

// The table's loader a fetched name is ("" when none): a TFTP name, with or
// without a leading '/', or an HTTP path under /assets.
std::string LoaderFileOf(std::string_view fetched);

// Called when the same machine's firmware DHCPs again: the refused boot's
// description for the timeline, or nullopt when nothing points at one.
std::optional<std::string> LoaderNotStarted(const LoaderHandout& handout, std::chrono::steady_clock::time_point now,
                                            std::chrono::seconds bound = kLoaderStartBound);

}  // namespace metalpxe
