#pragma once
// How metalpxectl prints: aligned tables with upper-case headers (like
// kubectl/talosctl) by default, or the API's objects as JSON / YAML with the
// same camelCase names as the configuration. Streams print one object per
// line (JSON) or per document (YAML) so a follower can read them as they come.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <google/protobuf/message.h>
#include <nlohmann/json.hpp>

namespace metalpxe::cli {

enum class OutputFormat { kTable, kJson, kYaml };

// Reflection over any API message: every field (defaults too, so scripts see
// stable keys), int64 as numbers, enums by name.
nlohmann::json ToJson(const google::protobuf::Message& message);
std::string ToYaml(const nlohmann::json& value);

// Prints `value` (an object or an array) as a JSON or YAML document.
void PrintDocument(std::ostream& out, OutputFormat format, const nlohmann::json& value);
// One element of a stream: a compact JSON line or a YAML document (---),
// flushed so followers see it at once.
void PrintStreamItem(std::ostream& out, OutputFormat format, const nlohmann::json& value);

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void Print(std::ostream& out) const;  // columns separated by 3 spaces, last column unpadded

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

std::string FormatUnixSeconds(std::int64_t unix_seconds);  // 2026-11-24T15:25:37Z; "-" for 0
std::string FormatUnixMillis(std::int64_t unix_ms);        // 2026-11-24T15:25:37.123Z
std::string FormatAge(std::int64_t unix_seconds);          // 42s, 5m, 3h, 2d; "-" for 0
std::string OrDash(const std::string& s);
std::string Join(const std::vector<std::string>& parts, const std::string& sep);

}  // namespace metalpxe::cli
