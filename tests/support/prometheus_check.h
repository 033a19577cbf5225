#pragma once
// Checks a /metrics text the way Prometheus would: `promtool check metrics`
// (Prometheus's own text parser and linter, Debian package prometheus), plus
// what promtool does not check: every sample belongs to a family with
// # HELP and # TYPE, and every histogram series has non-decreasing buckets
// whose +Inf bucket equals its _count.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"

namespace metalpxe::testing {

// "" when the text passes; else what is wrong.
inline std::string CheckPrometheusText(const std::string& text) {
  std::string problems;
  const std::string path =
      (std::filesystem::temp_directory_path() / ("metrics-" + std::to_string(::getpid()) + ".txt")).string();
  std::ofstream(path) << text;
  auto r = RunCommand({"sh", "-c", "exec promtool check metrics < '" + path + "'"}, std::chrono::seconds(30));
  std::filesystem::remove(path);
  if (r.exit_code != 0) problems += "promtool check metrics (exit " + std::to_string(r.exit_code) + "): " + r.output;

  std::map<std::string, std::string> type_of;  // family -> type
  std::map<std::string, bool> has_help;
  // histogram series (name + labels without le) -> bucket counts in order, +Inf, count
  struct Series {
    std::vector<double> buckets;
    double inf = -1, count = -1;
  };
  std::map<std::string, Series> series;
  std::istringstream in(text);
  std::string line;
  const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$)");
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      has_help[line.substr(7, line.find(' ', 7) - 7)] = true;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      const auto name_end = line.find(' ', 7);
      type_of[line.substr(7, name_end - 7)] = line.substr(name_end + 1);
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    std::smatch m;
    if (!std::regex_match(line, m, sample)) {
      problems += "unparsable line: " + line + "\n";
      continue;
    }
    std::string name = m[1].str(), labels = m[3].str();
    const double value = std::stod(m[4].str());
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0 &&
          type_of.count(name.substr(0, name.size() - s.size())) &&
          type_of[name.substr(0, name.size() - s.size())] == "histogram") {
        family = name.substr(0, name.size() - s.size());
      }
    }
    if (!type_of.count(family) || !has_help.count(family)) {
      problems += "sample without # HELP/# TYPE: " + line + "\n";
      continue;
    }
    if (type_of[family] != "histogram") continue;
    std::smatch le;
    std::string without_le = labels;
    if (std::regex_search(labels, le, std::regex(R"re((^|,)le="([^"]*)")re"))) {
      without_le = std::regex_replace(labels, std::regex(R"re((^|,)le="[^"]*")re"), "");
    }
    Series& s = series[family + "{" + without_le + "}"];
    if (name == family + "_bucket") {
      if (le.size() < 3) {
        problems += "bucket without le: " + line + "\n";
      } else if (le[2].str() == "+Inf") {
        s.inf = value;
      } else {
        s.buckets.push_back(value);
      }
    } else if (name == family + "_count") {
      s.count = value;
    }
  }
  for (const auto& [key, s] : series) {
    for (std::size_t i = 1; i < s.buckets.size(); ++i)
      if (s.buckets[i] < s.buckets[i - 1]) problems += key + ": buckets decrease\n";
    if (s.inf < 0 || s.count < 0 || s.inf != s.count) problems += key + ": +Inf bucket differs from _count\n";
    if (!s.buckets.empty() && s.buckets.back() > s.inf) problems += key + ": a bucket exceeds +Inf\n";
  }
  return problems;
}

// The value of one sample ("name{labels}" exactly as exposed), or -1.
inline double PrometheusSample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

}  // namespace metalpxe::testing
