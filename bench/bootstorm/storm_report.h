#pragma once
// The storm's figures: per stage, the latencies of the machines that got
// through it (p50/p99) and the failures that ended boots there, with their
// reasons; the whole storm's time. Printed for people and for run.sh.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace metalpxe::bench {

class StormReport {
 public:
  void Latency(const std::string& stage, double ms) { stages_[Slot(stage)].ms.push_back(ms); }
  void Failure(const std::string& stage, const std::string& reason) {
    ++stages_[Slot(stage)].failures;
    ++reasons_[stage + ": " + reason];
  }
  // Lines "stage NAME COUNT P50_MS P99_MS FAILURES", then "total SECONDS
  // BOOTED FAILED", then "failure COUNT REASON" lines.
  void Print(std::FILE* out, double seconds, int booted, int failed) const;

  // Nearest-rank percentile of `values` (sorted in place); 0 when empty.
  static double Percentile(std::vector<double>& values, double p);

 private:
  struct Stage {
    std::string name;
    std::vector<double> ms;
    int failures = 0;
  };
  std::size_t Slot(const std::string& stage) {
    for (std::size_t i = 0; i < stages_.size(); ++i)
      if (stages_[i].name == stage) return i;
    stages_.push_back({stage, {}, 0});
    return stages_.size() - 1;
  }
  std::vector<Stage> stages_;  // in the order the stages first appear
  std::map<std::string, int> reasons_;
};

}  // namespace metalpxe::bench
