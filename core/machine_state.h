#pragma once
// The lifecycle of a machine (docs/design.md "Machine model"). Names are the ones
// users see in listings and events.
#include <optional>
#include <string_view>

namespace metalpxe {

enum class MachineState {
  kDiscovered,          // seen on the wire, not in the inventory, not accepted
  kPendingInstall,      // in the inventory, will get the installer on next PXE boot
  kInstalling,          // fetched its config / reported install progress
  kInstalled,           // boots from its own disk
  kReinstallRequested,  // operator asked; power action under way
  kFailed,              // with a human-readable reason
};

std::string_view MachineStateName(MachineState s);  // "pending-install", ...
std::optional<MachineState> ParseMachineState(std::string_view name);

}  // namespace metalpxe
