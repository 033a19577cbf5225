#include "core/client_ledger.h"

#include <cctype>

#include <yaml-cpp/yaml.h>

namespace metalpxe {
namespace {

constexpr std::size_t kMaxSerialHexDigits = 80;  // RFC 5280: at most 20 octets; be generous

std::string LedgerScalar(const YAML::Node& entry, const char* key) {
  const YAML::Node v = entry[key];
  if (!v || v.IsNull()) return "";
  if (!v.IsScalar()) throw YAML::Exception(v.Mark(), std::string(key) + " must be a string");
  return v.Scalar();
}

// Who issued / revoked: a certificate CN or a note, printable ASCII (what
// the YAML emitter writes back unchanged).
std::string LedgerWho(const YAML::Node& entry, const char* key) {
  std::string text = LedgerScalar(entry, key);
  for (unsigned char c : text) {
    if (c < 0x20 || c >= 0x7f) throw YAML::Exception(entry[key].Mark(), std::string(key) + " must be printable ASCII");
  }
  if (text.size() > 256) throw YAML::Exception(entry[key].Mark(), std::string(key) + " is too long");
  return text;
}

std::int64_t LedgerTime(const YAML::Node& entry, const char* key) {
  const std::string text = LedgerScalar(entry, key);
  if (text.empty()) return 0;
  std::int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || value > (INT64_MAX - 9) / 10) {
      throw YAML::Exception(entry[key].Mark(), std::string(key) + " must be unix seconds");
    }
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

bool IsValidClientName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
  }
  return true;
}

std::optional<std::string> NormalizeSerial(std::string_view text) {
  if (text.starts_with("0x") || text.starts_with("0X")) text.remove_prefix(2);
  std::string hex;
  for (char c : text) {
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    if (hex.empty() && c == '0') continue;  // leading zeros
    hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (hex.size() > kMaxSerialHexDigits) return std::nullopt;
  }
  if (hex.empty()) {
    // All zeros (or nothing): only a literal zero is a serial.
    if (text.find_first_of("0") == std::string_view::npos) return std::nullopt;
    return std::string("0");
  }
  return hex;
}

std::string RenderClientLedger(const std::vector<IssuedClientConfig>& entries) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "clients" << YAML::Value << YAML::BeginSeq;
  for (const auto& e : entries) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << e.name;
    out << YAML::Key << "role" << YAML::Value << std::string(ApiRoleName(e.role));
    out << YAML::Key << "serial" << YAML::Value << YAML::DoubleQuoted << e.serial;
    out << YAML::Key << "issuedUnix" << YAML::Value << e.issued_unix;
    out << YAML::Key << "expiresUnix" << YAML::Value << e.expires_unix;
    out << YAML::Key << "issuedBy" << YAML::Value << e.issued_by;
    if (e.revoked_unix != 0) {
      out << YAML::Key << "revokedUnix" << YAML::Value << e.revoked_unix;
      out << YAML::Key << "revokedBy" << YAML::Value << e.revoked_by;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

Result<std::vector<IssuedClientConfig>> ParseClientLedger(std::string_view yaml_text) {
  std::vector<IssuedClientConfig> out;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    if (!root || root.IsNull()) return out;
    if (!root.IsMap()) return Status(ErrorCode::kInvalidArgument, "client ledger must be a map with 'clients'");
    const YAML::Node clients = root["clients"];
    if (!clients || clients.IsNull()) return out;
    if (!clients.IsSequence()) return Status(ErrorCode::kInvalidArgument, "client ledger: 'clients' must be a list");
    for (const auto& entry : clients) {
      if (!entry.IsMap()) return Status(ErrorCode::kInvalidArgument, "client ledger: every client must be a map");
      IssuedClientConfig e;
      e.name = LedgerScalar(entry, "name");
      if (!IsValidClientName(e.name)) {
        return Status(ErrorCode::kInvalidArgument, "client ledger: bad name '" + e.name + "'");
      }
      auto role = ParseApiRole(LedgerScalar(entry, "role"));
      if (!role) return Status(ErrorCode::kInvalidArgument, "client ledger: " + e.name + ": unknown role");
      e.role = *role;
      auto serial = NormalizeSerial(LedgerScalar(entry, "serial"));
      if (!serial) return Status(ErrorCode::kInvalidArgument, "client ledger: " + e.name + ": bad serial");
      e.serial = *serial;
      e.issued_unix = LedgerTime(entry, "issuedUnix");
      e.expires_unix = LedgerTime(entry, "expiresUnix");
      e.issued_by = LedgerWho(entry, "issuedBy");
      e.revoked_unix = LedgerTime(entry, "revokedUnix");
      e.revoked_by = LedgerWho(entry, "revokedBy");
      out.push_back(std::move(e));
    }
  } catch (const YAML::Exception& e) {
    return Status(ErrorCode::kInvalidArgument, std::string("client ledger: ") + e.what());
  }
  return out;
}

std::string RenderRevokedSerials(const std::set<std::string>& serials) {
  std::string out =
      "# Revoked management API client certificates, one serial (hex) per line.\n"
      "# metalpxed refuses every call made with one of them.\n";
  for (const auto& s : serials) out += s + "\n";
  return out;
}

Result<std::set<std::string>> ParseRevokedSerials(std::string_view text) {
  std::set<std::string> out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) line.remove_prefix(1);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.remove_suffix(1);
    if (line.empty()) continue;
    auto serial = NormalizeSerial(line);
    if (!serial) {
      return Status(ErrorCode::kInvalidArgument,
                    "revoked serials, line " + std::to_string(line_no) + ": not a hexadecimal serial number");
    }
    out.insert(*serial);
  }
  return out;
}

}  // namespace metalpxe
