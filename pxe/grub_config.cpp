#include "pxe/grub_config.h"

#include "core/provisioning/boot_urls.h"

namespace metalpxe {
namespace {

// GRUB on UEFI returns a non-zero `exit` status to the firmware as an error
// (shim passes it on), so the firmware goes on to its next boot option, as
// with iPXE's `exit 1` (ipxe_script.cpp).
constexpr std::string_view kGrubExitToNextBootOption = "exit 1\n";

std::string GrubTftpFile(const ServerConfig& server, const std::string& path) {
  return "(tftp," + server.address.ToString() + ")/" + path;
}

}  // namespace

std::string GrubQuote(std::string_view word) {
  std::string out = "'";
  for (char c : word) {
    if (c == '\'')
      out += "'\\''";
    else if (c == '\n' || c == '\r')
      out += ' ';  // a newline would end the command
    else
      out += c;
  }
  return out + "'";
}

std::string RenderGrubBootstrap() {
  // ${net_default_mac} is aa:bb:cc:dd:ee:ff (lower case); the machine's file
  // is named with hyphens, as GRUB's own network config search does.
  return std::string(
             "# metalpxe: each machine's own config is grub.cfg-01-<its MAC, hyphens>\n"
             "set h='([0-9a-fA-F][0-9a-fA-F])'\n"
             "if regexp --set=1:m1 --set=2:m2 --set=3:m3 --set=4:m4 --set=5:m5 --set=6:m6 "
             "\"^$h:$h:$h:$h:$h:$h\\$\" \"$net_default_mac\"; then\n"
             "  source \"$prefix/grub.cfg-01-$m1-$m2-$m3-$m4-$m5-$m6\"\n"
             "fi\n"
             "echo \"metalpxe: no config for this machine ($net_default_mac)\"\n"
             "sleep 10\n") +
         std::string(kGrubExitToNextBootOption);
}

std::string RenderGrubMachineConfig(const ServerConfig& server, const MacAddress& mac, const IpxeAnswer& a) {
  const std::string name = a.machine_name.empty() ? mac.ToString() : a.machine_name;
  std::string s = "# metalpxe: " + GrubQuote(name) + "\n";
  switch (a.kind) {
    case IpxeAnswer::Kind::kInstall: {
      const std::string role(RoleName(a.role));
      s += "echo " + GrubQuote("metalpxe: installing Talos on " + name + " (" + role + ")") + "\n";
      s += "linux " + GrubTftpFile(server, ProfileTftpPath(a.profile, kKernelFileName));
      for (const auto& arg : a.kernel_args)
        if (!arg.starts_with("initrd=")) s += " " + GrubQuote(arg);
      s += "\ninitrd " + GrubTftpFile(server, ProfileTftpPath(a.profile, kInitramfsFileName)) + "\nboot\n";
      return s;
    }
    case IpxeAnswer::Kind::kBootFromDisk:
      // GRUB has no sanboot and no HTTP status: every bootFromDisk mode
      // leaves to the firmware's next boot option (the disk).
      s += "echo " + GrubQuote("metalpxe: " + name + " is installed, booting from its disk") + "\n";
      return s + std::string(kGrubExitToNextBootOption);
    case IpxeAnswer::Kind::kDiscover:
      s += "echo " + GrubQuote("metalpxe: this machine (" + mac.ToString() +
                               ") is not in the inventory; waiting to be accepted") +
           "\nsleep " + std::to_string(a.retry_seconds) + "\nconfigfile " +
           GrubTftpFile(server, GrubMachineConfigPath(mac)) + "\n";
      return s;
    case IpxeAnswer::Kind::kIgnore:
    case IpxeAnswer::Kind::kRefused:
      s += "echo 'metalpxe: not ours to boot'\n";
      return s + std::string(kGrubExitToNextBootOption);
  }
  return s + std::string(kGrubExitToNextBootOption);
}

}  // namespace metalpxe
