#include "core/machine_state.h"

#include <array>
#include <utility>

namespace metalpxe {
namespace {
constexpr std::array<std::pair<MachineState, std::string_view>, 7> kNames{{
    {MachineState::kDiscovered, "discovered"},
    {MachineState::kPendingInstall, "pending-install"},
    {MachineState::kInstalling, "installing"},
    {MachineState::kInstalled, "installed"},
    {MachineState::kRunning, "running"},
    {MachineState::kReinstallRequested, "reinstall-requested"},
    {MachineState::kFailed, "failed"},
}};
}  // namespace

std::string_view MachineStateName(MachineState s) {
  for (const auto& [state, name] : kNames)
    if (state == s) return name;
  return "unknown";
}

std::optional<MachineState> ParseMachineState(std::string_view name) {
  for (const auto& [state, n] : kNames)
    if (n == name) return state;
  return std::nullopt;
}

}  // namespace metalpxe
