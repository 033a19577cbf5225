#pragma once
// The kernel command line as the Talos installer reads it: the parameters the
// stand-in needs (where its config, event sink and kernel-log receiver are).
// Pure functions over the text of /proc/cmdline; no I/O.
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace metalpxe::standin {

// Splits a command line into key -> value ("flag" alone maps to ""). Values may
// be double-quoted as the kernel allows (`a="x y"`); the last occurrence wins,
// as in the kernel's own parser.
Result<std::map<std::string, std::string>> ParseKernelCmdline(std::string_view text);

struct HostPort {
  std::string host;
  int port = 0;
};

// "10.66.0.1:50101" (talos.events.sink) or "tcp://10.66.0.1:50102"
// (talos.logging.kernel), or with an IPv6 literal "[fd00:66::1]:50101"
// (host kept without brackets); any other scheme is an error.
Result<HostPort> ParseEndpoint(std::string_view text);

struct StandinArgs {
  std::string config_url;                  // talos.config; "" = maintenance mode
  // standin.boot=disk: this boot came from the installed disk (its boot
  // entry says so): run the installed node (apid), not the installer.
  bool boot_from_disk = false;
  std::optional<HostPort> events_sink;     // talos.events.sink
  std::optional<HostPort> logging_kernel;  // talos.logging.kernel
  // standin.expect=<hostname>/<role>: what the test expects this machine's
  // config to say, so a mix-up is caught inside the VM too.
  std::optional<std::string> expect_hostname, expect_role;
  // standin.disk: where to write what Talos writes to machine.install.disk
  // (host tests point it at a file); "" = the config's machine.install.disk.
  std::string disk;
};

// Everything is optional: without talos.config the stand-in waits in
// maintenance mode, as Talos does.
Result<StandinArgs> StandinArgsFromCmdline(std::string_view text);

}  // namespace metalpxe::standin
