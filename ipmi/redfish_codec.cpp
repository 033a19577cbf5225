#include "ipmi/redfish_codec.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "ipmi/json_fields.h"

namespace metalpxe {
namespace {

using nlohmann::json;

// Parses without exceptions: a discarded value means malformed input.
Result<json> Parse(std::string_view text, const char* what) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object())
    return Status{ErrorCode::kInternal, std::string("malformed Redfish ") + what + " (not a JSON object)"};
  return doc;
}

using json_fields::Member;
using json_fields::String;

std::string OdataId(const json& obj, const char* key) {
  const json* v = Member(obj, key);
  return v ? String(*v, "@odata.id") : std::string();
}

std::vector<std::string> Strings(const json& obj, const char* key) {
  std::vector<std::string> out;
  const json* v = Member(obj, key);
  if (v && v->is_array())
    for (const auto& e : *v)
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

Result<RedfishServiceRoot> ParseRedfishServiceRoot(std::string_view text) {
  auto doc = Parse(text, "service root");
  if (!doc.ok()) return doc.status();
  RedfishServiceRoot root;
  root.systems_path = OdataId(*doc, "Systems");
  if (const json* links = Member(*doc, "Links")) root.sessions_path = OdataId(*links, "Sessions");
  if (root.sessions_path.empty())
    if (const json* ss = Member(*doc, "SessionService"); ss && !String(*ss, "@odata.id").empty())
      root.sessions_path = String(*ss, "@odata.id") + "/Sessions";
  if (root.systems_path.empty()) return Status{ErrorCode::kUnsupported, "Redfish service root has no Systems"};
  return root;
}

Result<std::vector<std::string>> ParseRedfishCollection(std::string_view text) {
  auto doc = Parse(text, "collection");
  if (!doc.ok()) return doc.status();
  const json* members = Member(*doc, "Members");
  if (!members || !members->is_array()) return Status{ErrorCode::kInternal, "Redfish collection without Members"};
  std::vector<std::string> out;
  for (const auto& m : *members) {
    std::string id = String(m, "@odata.id");
    if (!id.empty()) out.push_back(std::move(id));
  }
  return out;
}

Result<RedfishSystem> ParseRedfishSystem(std::string_view text) {
  auto doc = Parse(text, "ComputerSystem");
  if (!doc.ok()) return doc.status();
  RedfishSystem s;
  s.id = String(*doc, "@odata.id");
  s.power_state = String(*doc, "PowerState");
  s.etag = String(*doc, "@odata.etag");
  if (const json* actions = Member(*doc, "Actions")) {
    if (const json* reset = Member(*actions, "#ComputerSystem.Reset")) {
      s.reset_target = String(*reset, "target");
      s.reset_types = Strings(*reset, "ResetType@Redfish.AllowableValues");
      s.reset_action_info = String(*reset, "@Redfish.ActionInfo");
    }
  }
  if (const json* boot = Member(*doc, "Boot"); boot && boot->is_object()) {
    s.has_boot = true;
    s.boot_target = String(*boot, "BootSourceOverrideTarget");
    s.boot_enabled = String(*boot, "BootSourceOverrideEnabled");
    if (const json* mode = Member(*boot, "BootSourceOverrideMode"); mode && mode->is_string())
      s.boot_mode = mode->get<std::string>();
    s.boot_targets_allowed = Strings(*boot, "BootSourceOverrideTarget@Redfish.AllowableValues");
  }
  return s;
}

Result<std::vector<std::string>> ParseRedfishActionInfo(std::string_view text, std::string_view parameter) {
  auto doc = Parse(text, "ActionInfo");
  if (!doc.ok()) return doc.status();
  const json* params = Member(*doc, "Parameters");
  if (params && params->is_array())
    for (const auto& p : *params)
      if (String(p, "Name") == parameter) return Strings(p, "AllowableValues");
  return std::vector<std::string>{};
}

std::string ParseRedfishError(std::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, false);
  const json* err = doc.is_discarded() ? nullptr : Member(doc, "error");
  if (!err || !err->is_object()) return "";
  std::string out = String(*err, "message");
  if (const json* info = Member(*err, "@Message.ExtendedInfo"); info && info->is_array()) {
    for (const auto& i : *info) {
      std::string m = String(i, "Message");
      if (m.empty() || m == out) continue;
      out += (out.empty() ? "" : "; ") + m;
    }
  }
  return out;
}

bool RedfishErrorIsUnsupportedValue(std::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, false);
  const json* err = doc.is_discarded() ? nullptr : Member(doc, "error");
  if (!err || !err->is_object()) return false;
  std::vector<std::string> ids{String(*err, "code")};
  if (const json* info = Member(*err, "@Message.ExtendedInfo"); info && info->is_array())
    for (const auto& i : *info) ids.push_back(String(i, "MessageId"));
  for (const auto& id : ids)
    for (const char* name : {"ActionParameterValueNotInList", "PropertyValueNotInList", "ActionNotSupported",
                             "PropertyNotWritable", "ActionParameterNotSupported", "PropertyUnknown"})
      if (id.find(name) != std::string::npos) return true;
  return false;
}

RedfishCyclePlan ChooseRedfishCycle(const std::vector<std::string>& allowed) {
  RedfishCyclePlan plan;
  // Not advertised: ForceRestart is the one type nearly every BMC implements.
  if (allowed.empty()) {
    plan.reset_type = "ForceRestart";
    return plan;
  }
  for (const char* t : {"PowerCycle", "ForceRestart"})
    if (Contains(allowed, t)) {
      plan.reset_type = t;
      return plan;
    }
  plan.off_type = ChooseRedfishOff(allowed).value_or("");
  plan.on_type = ChooseRedfishOn(allowed).value_or("");
  return plan;
}

std::optional<std::string> ChooseRedfishOn(const std::vector<std::string>& allowed) {
  if (allowed.empty()) return "On";
  for (const char* t : {"On", "ForceOn"})
    if (Contains(allowed, t)) return t;
  return std::nullopt;
}

std::optional<std::string> ChooseRedfishOff(const std::vector<std::string>& allowed) {
  if (allowed.empty()) return "ForceOff";
  for (const char* t : {"ForceOff", "GracefulShutdown"})
    if (Contains(allowed, t)) return t;
  return std::nullopt;
}

std::string RedfishResetBody(std::string_view reset_type) {
  return json{{"ResetType", std::string(reset_type)}}.dump();
}

std::string RedfishPxeOnceBody(bool efi, bool with_mode) {
  json boot{{"BootSourceOverrideTarget", "Pxe"}, {"BootSourceOverrideEnabled", "Once"}};
  if (with_mode) boot["BootSourceOverrideMode"] = efi ? "UEFI" : "Legacy";
  return json{{"Boot", boot}}.dump();
}

}  // namespace metalpxe
