#pragma once
// Redfish (DMTF DSP0266 / DSP8010) documents metalpxe reads and writes: the
// service root, a Systems collection, a ComputerSystem with its Reset action
// and Boot override, ActionInfo, and error bodies. Pure functions over JSON
// text: every field is type-checked, malformed input is an error, never UB.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace metalpxe {

struct RedfishServiceRoot {
  std::string systems_path;   // Systems.@odata.id
  std::string sessions_path;  // Links.Sessions.@odata.id; empty = no session service
};

struct RedfishSystem {
  std::string id;            // @odata.id
  std::string power_state;   // "On" | "Off" | "PoweringOn" | "PoweringOff" | ""
  std::string etag;          // @odata.etag, if the body carries one
  std::string reset_target;  // Actions."#ComputerSystem.Reset".target
  std::vector<std::string> reset_types;  // ResetType@Redfish.AllowableValues; empty = not advertised
  std::string reset_action_info;         // @Redfish.ActionInfo, when values live there
  bool has_boot = false;
  std::string boot_target;   // Boot.BootSourceOverrideTarget
  std::string boot_enabled;  // Boot.BootSourceOverrideEnabled
  std::optional<std::string> boot_mode;  // Boot.BootSourceOverrideMode, absent on some BMCs
  std::vector<std::string> boot_targets_allowed;  // BootSourceOverrideTarget@Redfish.AllowableValues
};

Result<RedfishServiceRoot> ParseRedfishServiceRoot(std::string_view json);
// Members[].@odata.id of a resource collection.
Result<std::vector<std::string>> ParseRedfishCollection(std::string_view json);
Result<RedfishSystem> ParseRedfishSystem(std::string_view json);
// AllowableValues of one parameter in an ActionInfo resource.
Result<std::vector<std::string>> ParseRedfishActionInfo(std::string_view json, std::string_view parameter);
// error.message plus every @Message.ExtendedInfo[].Message, "; "-joined;
// empty when the body is not a Redfish error.
std::string ParseRedfishError(std::string_view json);
// True when the error names a value the service does not allow (DMTF Base
// registry: ActionParameterValueNotInList, PropertyValueNotInList, ...).
bool RedfishErrorIsUnsupportedValue(std::string_view json);

// How to power-cycle given the allowed ResetType values (empty = any).
struct RedfishCyclePlan {
  std::string reset_type;    // one-step: "PowerCycle" or "ForceRestart"
  std::string off_type;      // two-step when reset_type is empty
  std::string on_type;
  bool possible() const { return !reset_type.empty() || (!off_type.empty() && !on_type.empty()); }
};
RedfishCyclePlan ChooseRedfishCycle(const std::vector<std::string>& allowed);
std::optional<std::string> ChooseRedfishOn(const std::vector<std::string>& allowed);
std::optional<std::string> ChooseRedfishOff(const std::vector<std::string>& allowed);

std::string RedfishResetBody(std::string_view reset_type);
// {"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Once"[,"BootSourceOverrideMode":..]}}
std::string RedfishPxeOnceBody(bool efi, bool with_mode);

}  // namespace metalpxe
