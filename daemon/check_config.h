#pragma once
// `metalpxed --check-config FILE`: validate, print one line per problem as
// FILE:LINE:COLUMN: message, or a one-line summary when valid.
#include <ostream>
#include <string>

namespace metalpxe {

// Returns the process exit code: 0 valid, 1 problems found.
int RunCheckConfig(const std::string& path, std::ostream& out, std::ostream& err);

}  // namespace metalpxe
