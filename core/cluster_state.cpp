#include "core/cluster_state.h"

#include <array>
#include <utility>

namespace metalpxe {
namespace {
constexpr std::array<std::pair<ClusterBootstrapState, std::string_view>, 4> kClusterStateNames{{
    {ClusterBootstrapState::kPending, "pending"},
    {ClusterBootstrapState::kBootstrapping, "bootstrapping"},
    {ClusterBootstrapState::kBootstrapped, "bootstrapped"},
    {ClusterBootstrapState::kFailed, "failed"},
}};
}  // namespace

std::string_view ClusterBootstrapStateName(ClusterBootstrapState s) {
  for (const auto& [state, name] : kClusterStateNames)
    if (state == s) return name;
  return "unknown";
}

std::optional<ClusterBootstrapState> ParseClusterBootstrapState(std::string_view name) {
  for (const auto& [state, n] : kClusterStateNames)
    if (n == name) return state;
  return std::nullopt;
}

}  // namespace metalpxe
