#include "daemon/metrics.h"

#include <fmt/format.h>

namespace metalpxe {

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void PrometheusWriter::Family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void PrometheusWriter::Sample(std::string_view name, double value, const Labels& labels) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (std::size_t i = 0; i < labels.size(); ++i)
      out_ += fmt::format("{}{}=\"{}\"", i ? "," : "", labels[i].first, EscapeLabelValue(labels[i].second));
    out_ += '}';
  }
  out_ += fmt::format(" {}\n", value);
}

void PrometheusWriter::Histogram(std::string_view name, const LatencyHistogram::Snapshot& h, const Labels& labels) {
  const std::string bucket = std::string(name) + "_bucket";
  Labels with_le = labels;
  with_le.emplace_back("le", "");
  for (std::size_t i = 0; i < h.bounds.size() && i < h.cumulative.size(); ++i) {
    with_le.back().second = fmt::format("{}", h.bounds[i]);
    Sample(bucket, static_cast<double>(h.cumulative[i]), with_le);
  }
  with_le.back().second = "+Inf";
  Sample(bucket, static_cast<double>(h.count), with_le);
  Sample(std::string(name) + "_sum", h.sum_seconds, labels);
  Sample(std::string(name) + "_count", static_cast<double>(h.count), labels);
}

}  // namespace metalpxe
