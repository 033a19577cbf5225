#pragma once
// Prometheus text exposition (version 0.0.4) for /metrics: a small writer
// that keeps HELP/TYPE lines with their samples, and the appliance's
// collection of every module's counters.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace metalpxe {

class PrometheusWriter {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  // Starts a metric family; `type` is counter or gauge.
  void Family(std::string_view name, std::string_view type, std::string_view help);
  void Sample(std::string_view name, double value, const Labels& labels = {});
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

// Escapes a label value per the exposition format (\\, \", \n).
std::string EscapeLabelValue(std::string_view v);

}  // namespace metalpxe
