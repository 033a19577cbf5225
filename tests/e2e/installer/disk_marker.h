#pragma once
// The "installed" marker the stand-in writes where Talos would write its
// system disk: the first sector of the VM's raw disk image, so the test reads
// it back from the host with no filesystem in between. Only the MBR's boot
// code area (the first 440 bytes) is written: the disk signature and the
// partition table after it stay, so a lab disk whose GPT holds a boot
// partition (tests/e2e/lab/assets.sh: the installed system's bootloader)
// keeps its protective MBR and still boots.
#include <cstddef>
#include <string>

#include "core/result.h"
#include "tests/e2e/installer/talos_config_identity.h"

namespace metalpxe::standin {

inline constexpr char kMarkerPrefix[] = "METALPXE-STANDIN-INSTALLED";

// "METALPXE-STANDIN-INSTALLED hostname=cp-1 role=controlplane fixture=...\n"
std::string MarkerLine(const ConfigIdentity& id);

inline constexpr std::size_t kMarkerBytes = 440;  // the MBR's boot code area

// Writes MarkerLine at offset 0 of `device`, zero-padded to kMarkerBytes, and
// syncs it to the device before returning.
Status WriteMarker(const std::string& device, const ConfigIdentity& id);

// Where the rest of the "installed system" lives on the disk (Talos's STATE
// partition holds the config; EPHEMERAL the etcd data): the machine config
// at 1 MiB, the stand-in apid's state record at 64 KiB.
inline constexpr long kApidStateOffset = 64 * 1024;
inline constexpr long kConfigOffset = 1024 * 1024;
inline constexpr std::size_t kMaxInstalledConfig = 1024 * 1024;

// Writes "METALPXE-STANDIN-CONFIG <length>\n" + the config at kConfigOffset, synced.
Status WriteInstalledConfig(const std::string& device, const std::string& config);
// The config an install left on `device`; kNotFound when it holds none.
Result<std::string> ReadInstalledConfig(const std::string& device);

}  // namespace metalpxe::standin
