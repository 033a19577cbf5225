#include "api/kmsg_line.h"

#include <cstdint>

#include <nlohmann/json.hpp>

namespace metalpxe {
namespace {

Status Bad(std::string why) { return Status(ErrorCode::kInvalidArgument, "kmsg line: " + std::move(why)); }

// Optional string field: absent is fine, wrong type is not.
bool TakeString(const nlohmann::json& obj, const char* key, std::string& out) {
  auto it = obj.find(key);
  if (it == obj.end()) return true;
  if (!it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

bool TakeInt(const nlohmann::json& obj, const char* key, std::optional<std::int64_t>& out) {
  auto it = obj.find(key);
  if (it == obj.end()) return true;
  if (it->is_number_unsigned()) {
    auto v = it->get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(INT64_MAX)) return false;
    out = static_cast<std::int64_t>(v);
    return true;
  }
  if (it->is_number_integer()) {
    out = it->get<std::int64_t>();
    return true;
  }
  return false;
}

}  // namespace

Result<KmsgLine> ParseKmsgLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return Bad("empty");
  // No exceptions: a parse error yields a discarded value.
  nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad("not JSON");
  if (!j.is_object()) return Bad("not a JSON object");

  KmsgLine out;
  auto msg = j.find("msg");
  if (msg == j.end() || !msg->is_string()) return Bad("no \"msg\" string");
  out.msg = msg->get<std::string>();
  if (!TakeString(j, "facility", out.facility) || !TakeString(j, "priority", out.priority) ||
      !TakeString(j, "talos-level", out.talos_level) || !TakeString(j, "talos-time", out.talos_time)) {
    return Bad("a text field has the wrong type");
  }
  if (!TakeInt(j, "seq", out.seq) || !TakeInt(j, "clock", out.clock_us)) return Bad("seq/clock is not an integer");
  return out;
}

}  // namespace metalpxe
