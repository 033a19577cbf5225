#include "cli/output.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <ostream>

#include <fmt/format.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>
#include <yaml-cpp/yaml.h>

namespace metalpxe::cli {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

nlohmann::json ScalarField(const Message& m, const Reflection* r, const FieldDescriptor* f, int index) {
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: return rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f);
    case FieldDescriptor::CPPTYPE_INT64: return rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f);
    case FieldDescriptor::CPPTYPE_UINT32: return rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f);
    case FieldDescriptor::CPPTYPE_UINT64: return rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f);
    case FieldDescriptor::CPPTYPE_DOUBLE: return rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f);
    case FieldDescriptor::CPPTYPE_FLOAT: return rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f);
    case FieldDescriptor::CPPTYPE_BOOL: return rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f);
    case FieldDescriptor::CPPTYPE_STRING: return rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
    case FieldDescriptor::CPPTYPE_ENUM:
      return (rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f))->name();
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return ToJson(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
  }
  return nullptr;
}

void EmitYaml(YAML::Emitter& out, const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [k, item] : v.items()) {
        out << YAML::Key << k << YAML::Value;
        EmitYaml(out, item);
      }
      out << YAML::EndMap;
      break;
    case nlohmann::json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& item : v) EmitYaml(out, item);
      out << YAML::EndSeq;
      break;
    case nlohmann::json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      // Multi-line text (PEM, YAML) reads best as a literal block.
      if (s.find('\n') != std::string::npos) out << YAML::Literal;
      out << s;
      break;
    }
    case nlohmann::json::value_t::boolean: out << v.get<bool>(); break;
    case nlohmann::json::value_t::number_integer: out << v.get<std::int64_t>(); break;
    case nlohmann::json::value_t::number_unsigned: out << v.get<std::uint64_t>(); break;
    case nlohmann::json::value_t::number_float: out << v.get<double>(); break;
    default: out << YAML::Null; break;
  }
}

std::string FormatTime(std::int64_t seconds, int millis) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (millis < 0) return std::string(buf) + "Z";
  return fmt::format("{}.{:03d}Z", buf, millis);
}

}  // namespace

nlohmann::json ToJson(const Message& message) {
  nlohmann::json out = nlohmann::json::object();
  const auto* d = message.GetDescriptor();
  const auto* r = message.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_repeated()) {
      nlohmann::json arr = nlohmann::json::array();
      for (int j = 0; j < r->FieldSize(message, f); ++j) arr.push_back(ScalarField(message, r, f, j));
      out[f->json_name()] = std::move(arr);
    } else {
      out[f->json_name()] = ScalarField(message, r, f, 0);
    }
  }
  return out;
}

std::string ToYaml(const nlohmann::json& value) {
  YAML::Emitter out;
  EmitYaml(out, value);
  return out.c_str();
}

void PrintDocument(std::ostream& out, OutputFormat format, const nlohmann::json& value) {
  if (format == OutputFormat::kJson) {
    out << value.dump(2) << "\n";
  } else {
    out << ToYaml(value) << "\n";
  }
  out.flush();
}

void PrintStreamItem(std::ostream& out, OutputFormat format, const nlohmann::json& value) {
  if (format == OutputFormat::kJson) {
    out << value.dump() << "\n";
  } else {
    out << "---\n" << ToYaml(value) << "\n";
  }
  out.flush();
}

void Table::Print(std::ostream& out) const {
  std::vector<std::size_t> width(headers_.size());
  for (std::size_t i = 0; i < headers_.size(); ++i) width[i] = headers_[i].size();
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (std::size_t i = 0; i < headers_.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : "";
      s += cell;
      if (i + 1 < headers_.size()) s += std::string(width[i] - cell.size() + 3, ' ');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << "\n";
  };
  line(headers_);
  for (const auto& row : rows_) line(row);
  out.flush();
}

std::string FormatUnixSeconds(std::int64_t unix_seconds) {
  return unix_seconds == 0 ? "-" : FormatTime(unix_seconds, -1);
}

std::string FormatUnixMillis(std::int64_t unix_ms) {
  if (unix_ms == 0) return "-";
  return FormatTime(unix_ms / 1000, static_cast<int>(unix_ms % 1000));
}

std::string FormatAge(std::int64_t unix_seconds) {
  if (unix_seconds == 0) return "-";
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  std::int64_t d = std::max<std::int64_t>(0, now - unix_seconds);
  if (d < 120) return std::to_string(d) + "s";
  if (d < 2 * 3600) return std::to_string(d / 60) + "m";
  if (d < 48 * 3600) return std::to_string(d / 3600) + "h";
  return std::to_string(d / 86400) + "d";
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

}  // namespace metalpxe::cli
