// Reading fields of BMC JSON documents (Redfish, Hetzner Robot) without
// exceptions: a missing or mistyped field reads as absent, and the caller
// decides whether that is an error.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace metalpxe::json_fields {

inline const nlohmann::json* Member(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

// The string at `key`, or "" when absent or not a string.
inline std::string String(const nlohmann::json& obj, const char* key) {
  const nlohmann::json* v = Member(obj, key);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

}  // namespace metalpxe::json_fields
