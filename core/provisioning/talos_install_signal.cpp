#include "core/provisioning/talos_install_signal.h"

namespace metalpxe {
namespace {

constexpr const char* kInstallName = "install";  // sequence, phase and task name in Talos
constexpr const char* kBootSequence = "boot";

InstallSignal Installing() { return {InstallSignal::Kind::kInstalling, {}}; }
InstallSignal Installed() { return {InstallSignal::Kind::kInstalled, {}}; }
InstallSignal Failed(std::string reason) { return {InstallSignal::Kind::kFailed, std::move(reason)}; }

std::optional<InstallSignal> FromSequence(const TalosEvent& ev, bool was_installing) {
  if (!ev.error.empty()) {
    if (IsTalosRebootError(ev.error)) {
      // The install sequence's last task reboots on purpose.
      if (ev.name == kInstallName) return Installed();
      return std::nullopt;
    }
    // "sequence not started: locked": another sequence was running; nothing failed.
    if (ev.error_code == "LOCKED") return std::nullopt;
    return Failed(ev.name.empty() ? ev.error : ev.name + " sequence: " + ev.error);
  }
  if (ev.name == kInstallName) {
    // Talos runs the install sequence on every boot, with no phases once
    // installed (machine_status.go: "install sequence is run always, even if
    // the machine is already installed, so we'll catch it by phase name").
    // So START says nothing; the "install" phase/task START does. STOP ends
    // an install only if one was under way.
    if (ev.action == "STOP" && was_installing) return Installed();
    return std::nullopt;
  }
  if (ev.name == kBootSequence && ev.action == "START" && was_installing) return Installed();
  return std::nullopt;
}

std::optional<InstallSignal> FromMachineStatus(const TalosEvent& ev, bool was_installing) {
  if (ev.stage == "INSTALLING") return Installing();
  // RUNNING is only reached after the boot sequence, i.e. from the installed
  // disk. BOOTING is NOT used: the PXE-booted installer is BOOTING before it
  // installs anything.
  if (ev.stage == "RUNNING" && was_installing) return Installed();
  return std::nullopt;
}

}  // namespace

bool IsTalosRebootError(const std::string& message) {
  return message.find("unix.Reboot(") != std::string::npos;
}

std::optional<InstallSignal> InterpretTalosEvent(const TalosEvent& ev, bool machine_was_installing) {
  if (ev.type == kTalosSequenceEvent) return FromSequence(ev, machine_was_installing);
  if (ev.type == kTalosPhaseEvent || ev.type == kTalosTaskEvent) {
    if (ev.name == kInstallName && ev.action == "START") return Installing();
    return std::nullopt;
  }
  if (ev.type == kTalosConfigLoadErrorEvent) return Failed("config load error: " + ev.error);
  if (ev.type == kTalosConfigValidationErrorEvent) return Failed("config validation error: " + ev.error);
  if (ev.type == kTalosMachineStatusEvent) return FromMachineStatus(ev, machine_was_installing);
  return std::nullopt;
}

}  // namespace metalpxe
