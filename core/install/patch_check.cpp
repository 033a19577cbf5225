#include "core/install/patch_check.h"

#include "core/install/talos_patch.h"

namespace metalpxe {
namespace {

PatchProblem FromFailure(const RenderFailure& failure, Role role, std::string message) {
  PatchProblem p;
  p.role = role;
  p.message = std::move(message);
  switch (failure.origin) {
    case RenderFailure::Origin::kProfile:
    case RenderFailure::Origin::kBaseConfig:
      p.where = PatchProblem::Where::kBaseConfig;
      break;
    case RenderFailure::Origin::kProfilePatch:
    case RenderFailure::Origin::kMachinePatch:
      p.where = PatchProblem::Where::kPatch;
      p.patch = failure.patch;
      if (failure.item != kWholePatch) p.item = failure.item;
      break;
    case RenderFailure::Origin::kShorthand:
      p.where = PatchProblem::Where::kShorthand;
      p.key = failure.shorthand;
      break;
  }
  return p;
}

}  // namespace

std::vector<PatchProblem> CheckProfilePatches(const ProfileConfig& profile, BaseConfigCache* cache) {
  std::vector<PatchProblem> out;
  for (const auto& [role, path] : profile.configs) {
    RenderFailure failure;
    auto docs = RenderProfileDocuments(profile, role, cache, &failure);
    if (!docs.ok()) out.push_back(FromFailure(failure, role, docs.status().message()));
  }
  return out;
}

std::optional<PatchProblem> CheckMachinePatches(const AppConfig& app, const MachineConfig& machine,
                                                BaseConfigCache* cache) {
  RenderFailure failure;
  auto docs = RenderMachineDocuments(app, machine, cache, &failure);
  if (docs.ok()) return std::nullopt;
  if (failure.origin != RenderFailure::Origin::kMachinePatch && failure.origin != RenderFailure::Origin::kShorthand) {
    return std::nullopt;  // the profile's problem, reported with the profile
  }
  return FromFailure(failure, machine.role, docs.status().message());
}

}  // namespace metalpxe
