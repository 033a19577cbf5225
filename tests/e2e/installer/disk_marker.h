#pragma once
// The "installed" marker the stand-in writes where Talos would write its
// system disk: the first sector of the VM's raw disk image, so the test reads
// it back from the host with no filesystem in between.
#include <string>

#include "core/result.h"
#include "tests/e2e/installer/talos_config_identity.h"

namespace metalpxe::standin {

inline constexpr char kMarkerPrefix[] = "METALPXE-STANDIN-INSTALLED";

// "METALPXE-STANDIN-INSTALLED hostname=cp-1 role=controlplane fixture=...\n"
std::string MarkerLine(const ConfigIdentity& id);

// Writes MarkerLine at offset 0 of `device`, zero-padded to 512 bytes, and
// syncs it to the device before returning.
Status WriteMarker(const std::string& device, const ConfigIdentity& id);

}  // namespace metalpxe::standin
