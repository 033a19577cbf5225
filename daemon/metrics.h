#pragma once
// Prometheus text exposition (version 0.0.4) for /metrics: a small writer
// that keeps HELP/TYPE lines with their samples, and the appliance's
// collection of every module's counters.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/latency_histogram.h"

namespace metalpxe {

class PrometheusWriter {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  // Starts a metric family; `type` is counter, gauge or histogram.
  void Family(std::string_view name, std::string_view type, std::string_view help);
  void Sample(std::string_view name, double value, const Labels& labels = {});
  // One histogram series of the current family: <name>_bucket{...,le=...}
  // for each bound and +Inf, <name>_sum and <name>_count.
  void Histogram(std::string_view name, const LatencyHistogram::Snapshot& h, const Labels& labels = {});
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

// Escapes a label value per the exposition format (\\, \", \n).
std::string EscapeLabelValue(std::string_view v);

}  // namespace metalpxe
