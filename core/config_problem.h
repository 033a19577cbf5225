#pragma once
// One thing wrong with a config file, where the user can find it.
#include <string>
#include <vector>

namespace metalpxe {

struct ConfigProblem {
  std::string file;
  int line = 0;    // 1-based; 0 when the problem is about the file as a whole
  int column = 0;  // 1-based
  std::string message;

  // "FILE:LINE:COLUMN: message" (docs/config.md: the --check-config format).
  std::string ToString() const {
    return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
  }
};

using ConfigProblems = std::vector<ConfigProblem>;

}  // namespace metalpxe
