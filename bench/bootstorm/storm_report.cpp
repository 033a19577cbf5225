#include "bench/bootstorm/storm_report.h"

#include <algorithm>
#include <cmath>

namespace metalpxe::bench {

double StormReport::Percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

void StormReport::Print(std::FILE* out, double seconds, int booted, int failed) const {
  for (const Stage& s : stages_) {
    std::vector<double> ms = s.ms;
    const double p50 = Percentile(ms, 50), p99 = Percentile(ms, 99);
    std::fprintf(out, "stage %s %zu %.1f %.1f %d\n", s.name.c_str(), s.ms.size(), p50, p99, s.failures);
  }
  std::fprintf(out, "total %.3f %d %d\n", seconds, booted, failed);
  for (const auto& [reason, count] : reasons_) std::fprintf(out, "failure %d %s\n", count, reason.c_str());
}

}  // namespace metalpxe::bench
