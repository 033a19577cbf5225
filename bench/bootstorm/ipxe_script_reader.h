#pragma once
// What a simulated iPXE takes from the scripts it is served: the URL a
// `chain` line goes to, the `kernel` and `initrd` URLs of an install script
// and the talos.config= URL among the kernel's arguments, with the iPXE
// settings the scripts use (${net0/mac:hexhyp}, ${uuid:uristring}, ...)
// expanded as iPXE would for this machine. Pure functions over text.
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace metalpxe::bench {

// Settings by name without their type ("net0/mac", "uuid", "buildarch", ...);
// the type after ':' picks the form: hexhyp for a MAC with hyphens.
struct IpxeSettings {
  std::string mac;  // aa:bb:cc:dd:ee:ff
  std::map<std::string, std::string> values;  // everything else, already URL-safe
};

// ${name} / ${name:type}, nested (${net${idx}/mac:hexhyp}); unknown settings
// expand to "" as in iPXE.
std::string ExpandSettings(std::string_view text, const IpxeSettings& settings);

struct InstallScript {
  std::string kernel_url;
  std::string initrd_url;
  std::string config_url;  // from talos.config=, "" when absent
};

// The first `chain` line's URL (options such as --replace skipped), expanded.
std::optional<std::string> ChainUrl(std::string_view script, const IpxeSettings& settings);
// nullopt when the script has no kernel or no initrd line (a discover or
// boot-from-disk script).
std::optional<InstallScript> ReadInstallScript(std::string_view script, const IpxeSettings& settings);

// "http://host:port/path" -> host, port, path ("/" when empty); nullopt for
// anything else (https, no host).
struct HttpUrl {
  std::string host;
  unsigned port = 80;
  std::string path;
};
std::optional<HttpUrl> ParseHttpUrl(std::string_view url);

}  // namespace metalpxe::bench
