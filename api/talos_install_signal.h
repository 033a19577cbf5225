#pragma once
// What a Talos event says about an install in progress: a pure decision over
// one decoded event and whether metalpxe already considers the machine to be
// installing. The machine state machine (core/) applies the result.
//
// What Talos sends, read from siderolabs/talos:
// - internal/app/machined/pkg/runtime/sequencer.go: sequence names "initialize",
//   "install", "boot", "reboot", "reset", "upgrade", ...
// - machined runs initialize -> install -> boot on every boot; the install
//   sequence has no phases when Talos is already installed, so an installed
//   machine still reports "install" START/STOP before "boot" START.
// - internal/app/machined/pkg/runtime/v1alpha1/v1alpha1_controller.go:
//   run() publishes SequenceEvent START, then (deferred) STOP with no error on
//   every exit, success or failure. When the sequence returned an error, Run()
//   then publishes a SequenceEvent with action NOOP and
//   error{code FATAL|CANCELED, message "sequence failed: ..."}; a refused
//   sequence gets error{code LOCKED, "sequence not started: locked"}.
// - v1alpha1_sequencer.go: the install sequence ends with phase "reboot",
//   whose task (v1alpha1_sequencer_tasks.go, Reboot) publishes a RestartEvent
//   and returns runtime.RebootError, whose text is "unix.Reboot(<hex cmd>)".
//   So a SUCCESSFUL install ends with "install" STOP followed by a NOOP event
//   whose error contains "unix.Reboot(": that is not a failure.
//
// Consequences for consumers:
// - An already-installed machine reports "install" START/STOP (no phases) on
//   every boot, i.e. kInstalling then kInstalled; a machine already in state
//   installed should not be moved back by that (the phase/task "install"
//   START only occurs when Talos really installs).
// - Within one install, kInstalled (from the STOP)
//   can be followed by kFailed (from the error event that follows a failed
//   sequence's STOP). The later signal wins; apply them in arrival order.
#include <optional>
#include <string>

#include "api/talos_event.h"

namespace metalpxe {

struct InstallSignal {
  enum class Kind { kInstalling, kInstalled, kFailed };
  Kind kind;
  std::string reason;  // kFailed: Talos's own message
  bool operator==(const InstallSignal&) const = default;
};

std::optional<InstallSignal> InterpretTalosEvent(const TalosEvent& event, bool machine_was_installing);

// True when a SequenceEvent error is Talos's normal reboot/poweroff at the end
// of a sequence (runtime.RebootError), not a failure.
bool IsTalosRebootError(const std::string& message);

}  // namespace metalpxe
