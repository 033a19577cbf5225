#pragma once
// Where the source tree and the build tree are, for tests that read example
// files or run built binaries. Set at compile time by metalpxe_add_test; the
// environment (METALPXE_SOURCE_DIR / METALPXE_BINARY_DIR) may override.
#include <cstdlib>
#include <string>

namespace metalpxe::testing {

inline std::string SourceDir() {
  const char* env = std::getenv("METALPXE_SOURCE_DIR");
  return env && *env ? env : METALPXE_SOURCE_DIR_DEFAULT;
}

inline std::string BinaryDir() {
  const char* env = std::getenv("METALPXE_BINARY_DIR");
  return env && *env ? env : METALPXE_BINARY_DIR_DEFAULT;
}

}  // namespace metalpxe::testing
