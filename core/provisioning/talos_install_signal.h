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
// - internal/app/machined/pkg/controllers/runtime/machine_status.go derives
//   stage INSTALLING from PhaseEvent "install" START inside the install
//   sequence, RUNNING from "boot" STOP without error, and notes the install
//   sequence "is run always, even if the machine is already installed".
//
// Rules (see the table test):
//   PhaseEvent/TaskEvent "install" START                -> installing
//   MachineStatusEvent stage INSTALLING                  -> installing
//   SequenceEvent "install" START                        -> nothing (runs on every boot)
//   SequenceEvent "install" STOP, no error, installing   -> installed
//   SequenceEvent "install" error "unix.Reboot(...)"     -> installed
//   SequenceEvent "boot" START, installing               -> installed
//   MachineStatusEvent stage RUNNING, installing         -> installed (BOOTING is not:
//                                                           the PXE-booted installer boots first)
//   SequenceEvent error (not reboot, not LOCKED)         -> failed, Talos's message
//   ConfigLoadErrorEvent / ConfigValidationErrorEvent    -> failed, Talos's message
//
// Consequence for consumers: within one install, kInstalled (from the STOP,
// which Talos sends on failure too) can be followed by kFailed (from the
// error event that follows a failed sequence's STOP). Apply signals in
// arrival order; the later one wins.
#include <optional>
#include <string>

#include "core/talos_event.h"

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
