#include "ipmi/robot_codec.h"

#include <nlohmann/json.hpp>

#include "ipmi/json_fields.h"

namespace metalpxe {
namespace {

using nlohmann::json;

const json* Object(const json& doc, const char* key) {
  if (!doc.is_object()) return nullptr;
  auto it = doc.find(key);
  return it != doc.end() && it->is_object() ? &*it : nullptr;
}

using json_fields::String;

long Integer(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return 0;
  const auto v = it->get<long long>();
  return v < 0 || v > 1'000'000'000 ? 0 : long(v);
}

Result<json> Envelope(std::string_view text, const char* key) {
  json doc = json::parse(text.begin(), text.end(), nullptr, false);
  const json* inner = doc.is_discarded() ? nullptr : Object(doc, key);
  if (!inner) return Status{ErrorCode::kInternal, std::string("malformed Robot response: no \"") + key + "\" object"};
  return *inner;
}

}  // namespace

std::optional<RobotError> ParseRobotError(std::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, false);
  const json* e = doc.is_discarded() ? nullptr : Object(doc, "error");
  if (!e) return std::nullopt;
  RobotError err;
  err.status = int(Integer(*e, "status"));
  err.code = String(*e, "code");
  err.message = String(*e, "message");
  err.max_request = int(Integer(*e, "max_request"));
  err.interval = int(Integer(*e, "interval"));
  return err;
}

Result<RobotServer> ParseRobotServer(std::string_view text) {
  auto s = Envelope(text, "server");
  if (!s.ok()) return s.status();
  RobotServer out;
  out.server_ip = String(*s, "server_ip");
  out.server_number = Integer(*s, "server_number");
  out.server_name = String(*s, "server_name");
  out.status = String(*s, "status");
  if (out.server_ip.empty()) return Status{ErrorCode::kInternal, "Robot server without server_ip"};
  return out;
}

Result<RobotRescue> ParseRobotRescue(std::string_view text) {
  auto r = Envelope(text, "rescue");
  if (!r.ok()) return r.status();
  RobotRescue out;
  auto active = r->find("active");
  out.active = active != r->end() && active->is_boolean() && active->get<bool>();
  out.os = String(*r, "os");
  auto keys = r->find("host_key");
  if (keys != r->end() && keys->is_array())
    for (const auto& k : *keys) {
      const json* key = Object(k, "key");
      const json& src = key ? *key : k;
      if (src.is_object() && !String(src, "fingerprint").empty()) out.host_key_fingerprints.push_back(String(src, "fingerprint"));
    }
  return out;
}

Result<std::vector<std::string>> ParseRobotResetTypes(std::string_view text) {
  auto r = Envelope(text, "reset");
  if (!r.ok()) return r.status();
  std::vector<std::string> out;
  auto t = r->find("type");
  if (t != r->end() && t->is_array())
    for (const auto& v : *t)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::string ShellQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

std::string BuildKexecScript(std::string_view kernel_url, std::string_view initramfs_url,
                             std::string_view command_line) {
  std::string s;
  s += "set -e\n";
  s += "d=$(mktemp -d /tmp/metalpxe.XXXXXX)\n";
  s += "fetch() { if command -v curl >/dev/null 2>&1; then curl -fsS --retry 3 -o \"$2\" \"$1\"; "
       "else wget -q -O \"$2\" \"$1\"; fi; }\n";
  s += "fetch " + ShellQuote(kernel_url) + " \"$d/kernel\"\n";
  s += "fetch " + ShellQuote(initramfs_url) + " \"$d/initramfs\"\n";
  s += "kexec -l \"$d/kernel\" --initrd=\"$d/initramfs\" --append=" + ShellQuote(command_line) + "\n";
  s += "echo '" + std::string(kKexecLoadedMarker) + "'\n";
  s += "kexec -e\n";
  return s;
}

}  // namespace metalpxe
