#include "core/machine_lifecycle.h"

namespace metalpxe {

std::string_view LifecycleEventName(LifecycleEvent e) {
  switch (e) {
    case LifecycleEvent::kSeenUnknown: return "seen-unknown";
    case LifecycleEvent::kAccepted: return "accepted";
    case LifecycleEvent::kRemoved: return "removed";
    case LifecycleEvent::kInstallerServed: return "installer-served";
    case LifecycleEvent::kConfigFetched: return "config-fetched";
    case LifecycleEvent::kInstallStarted: return "install-started";
    case LifecycleEvent::kInstallFinished: return "install-finished";
    case LifecycleEvent::kBootedAfterInstall: return "booted-after-install";
    case LifecycleEvent::kInstallFailed: return "install-failed";
    case LifecycleEvent::kReinstallRequested: return "reinstall-requested";
    case LifecycleEvent::kPowerFailed: return "power-failed";
    case LifecycleEvent::kApiAnswered: return "api-answered";
  }
  return "?";
}

std::optional<MachineState> NextState(MachineState s, LifecycleEvent e) {
  using S = MachineState;
  using E = LifecycleEvent;
  switch (e) {
    case E::kSeenUnknown:
      return s == S::kDiscovered ? std::nullopt : std::optional(S::kDiscovered);
    case E::kAccepted:
      // Acceptance matters only for machines that were not yet to be installed.
      if (s == S::kDiscovered || s == S::kFailed) return S::kPendingInstall;
      return std::nullopt;
    case E::kRemoved:
      return s == S::kDiscovered ? std::nullopt : std::optional(S::kDiscovered);
    case E::kInstallerServed:
      // The installer is on its way; the machine is not installing until it
      // fetches its config, but a reinstall is now under way.
      if (s == S::kReinstallRequested || s == S::kFailed) return S::kPendingInstall;
      return std::nullopt;
    case E::kConfigFetched:
    case E::kInstallStarted:
      if (s == S::kPendingInstall || s == S::kReinstallRequested || s == S::kFailed || s == S::kDiscovered)
        return S::kInstalling;
      return std::nullopt;
    case E::kInstallFinished:
      // A running machine finished its install long ago: a late or replayed
      // event must not take it back.
      return s == S::kInstalled || s == S::kRunning ? std::nullopt : std::optional(S::kInstalled);
    case E::kBootedAfterInstall:
      return s == S::kInstalling ? std::optional(S::kInstalled) : std::nullopt;
    case E::kInstallFailed:
      return S::kFailed;
    case E::kReinstallRequested:
      return s == S::kDiscovered ? std::nullopt : std::optional(S::kReinstallRequested);
    case E::kPowerFailed:
      return S::kFailed;
    case E::kApiAnswered:
      // Only an installed machine comes up: one in the installer (maintenance
      // mode, or installing) answering is not running from its disk yet.
      return s == S::kInstalled ? std::optional(S::kRunning) : std::nullopt;
  }
  return std::nullopt;
}

}  // namespace metalpxe
