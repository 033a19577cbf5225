#pragma once
// The machine state machine (docs/design.md "Machine model") as a pure table:
// which happening moves a machine from which state to which. The registry
// applies it and records every transition as an event.
//
//   discovered ──accepted──▶ pending-install ──config fetched / install started──▶ installing
//   installing ──install finished / booted after install──▶ installed
//   installed ──reinstall requested──▶ reinstall-requested ──PXE install served──▶ installing
//   any ──install failed / power failed──▶ failed(reason) ──reinstall / accepted──▶ …
#include <optional>
#include <string_view>

#include "core/machine_state.h"

namespace metalpxe {

enum class LifecycleEvent {
  kSeenUnknown,         // an unknown MAC PXE-booted (policy discover)
  kAccepted,            // put in the inventory / accepted through the API
  kRemoved,             // gone from the inventory
  kInstallerServed,     // its iPXE script carried the installer
  kConfigFetched,       // the installer fetched its machine config
  kInstallStarted,      // Talos reported the install phase/sequence starting
  kInstallFinished,     // Talos finished the install sequence (it reboots now)
  kBootedAfterInstall,  // Talos started its boot sequence after an install
  kInstallFailed,       // Talos reported a config or install error
  kReinstallRequested,  // the operator asked for a reinstall
  kPowerFailed,         // the BMC could not power-cycle it
};

std::string_view LifecycleEventName(LifecycleEvent e);

// The state after `event`, or nullopt when the event does not apply in
// `current` (it is then recorded but changes nothing).
std::optional<MachineState> NextState(MachineState current, LifecycleEvent event);

}  // namespace metalpxe
