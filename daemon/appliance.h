#pragma once
// The running appliance: one io_context, the modules wired to one config
// snapshot and one store, signals for shutdown (SIGTERM/SIGINT) and reload
// (SIGHUP, or the inventory file changing).
#include <string>

namespace metalpxe {

inline constexpr const char* kVersion = "0.1.0";

// Runs until SIGTERM/SIGINT; returns the process exit code.
int RunAppliance(const std::string& config_path);

}  // namespace metalpxe
