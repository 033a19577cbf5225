#include "core/install/patch_problem_report.h"

#include "core/install/patch_check.h"

namespace metalpxe {
namespace {

// node[key] when node is a map holding it, else node itself.
YAML::Node Child(const YAML::Node& node, const std::string& key) {
  if (node.IsMap()) {
    const YAML::Node child = node[key];
    if (child.IsDefined()) return child;
  }
  return node;
}

YAML::Node NodeOf(const YAML::Node& owner, const PatchProblem& p) {
  switch (p.where) {
    case PatchProblem::Where::kBaseConfig:
      return Child(Child(owner, "configs"), std::string(RoleName(p.role)));
    case PatchProblem::Where::kShorthand:
      return Child(owner, p.key);
    case PatchProblem::Where::kPatch: {
      const YAML::Node patches = Child(owner, "patches");
      if (!patches.IsSequence() || p.patch >= patches.size()) return patches;
      const YAML::Node patch = patches[p.patch];
      if (p.item && patch.IsSequence() && *p.item < patch.size()) return patch[*p.item];
      return patch;
    }
  }
  return owner;
}

}  // namespace

void ReportProfilePatchProblems(ProblemSink& sink, const YAML::Node& profile_node, const ProfileConfig& profile) {
  for (const auto& problem : CheckProfilePatches(profile)) sink.Add(NodeOf(profile_node, problem), problem.message);
}

void ReportMachinePatchProblems(ProblemSink& sink, const YAML::Node& machine_node, const AppConfig& app,
                                const MachineConfig& machine, BaseConfigCache* cache) {
  if (auto problem = CheckMachinePatches(app, machine, cache)) {
    sink.Add(NodeOf(machine_node, *problem), problem->message);
  }
}

}  // namespace metalpxe
