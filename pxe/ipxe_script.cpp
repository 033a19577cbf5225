#include "pxe/ipxe_script.h"

#include <fmt/format.h>

#include "core/provisioning/boot_urls.h"

namespace metalpxe {
namespace {

// Leaving iPXE with a failure status: UEFI boot managers that see a
// Boot#### option return EFI_SUCCESS stop going through BootOrder and show
// their menu (UEFI spec 3.1.1; EDK2/OVMF does), so a plain `exit` never
// reaches the disk or the next boot option. An error makes them try the
// next option; BIOS ignores the status.
constexpr const char* kExitToNextBootOption = "exit 1\n";

// ${netX/mac:hexhyp} keeps the MAC URL-safe; ${uuid} etc. are URL-encoded by
// iPXE's :uristring type.
constexpr const char* kChainTemplate = R"(#!ipxe
# metalpxe: find an interface that reaches {addr}, then ask what this machine boots.
set idx:int32 0
:next_interface
isset ${{net${{idx}}/mac}} || goto no_interface
isset ${{net${{idx}}/ip}} || dhcp net${{idx}} || goto try_next
chain --replace --autofree {script_url}?mac=${{net${{idx}}/mac:hexhyp}}&uuid=${{uuid:uristring}}&serial=${{serial:uristring}}&arch=${{buildarch}}&platform=${{platform}} || goto try_next
:try_next
inc idx
goto next_interface
:no_interface
echo metalpxe: no interface could reach {base}; retrying in 10 seconds
sleep 10
set idx:int32 0
goto next_interface
)";

constexpr const char* kInstallTemplate = R"(#!ipxe
# metalpxe: install {name} ({role})
echo metalpxe: installing Talos on {name} ({role})
kernel {kernel} {args}
initrd --name {initrd_name} {initramfs}
boot
)";

std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

}  // namespace

std::string RenderChainScript(const ServerConfig& server, IpFamily family) {
  return fmt::format(kChainTemplate, fmt::arg("addr", ServerHost(server, family)),
                     fmt::arg("script_url", MachineScriptUrl(server, family)),
                     fmt::arg("base", HttpBaseUrl(server, family)));
}

std::string IpxeQueryString(const IpxeQuery& q) {
  return "mac=" + UrlEncode(q.mac) + "&uuid=" + UrlEncode(q.uuid) + "&serial=" + UrlEncode(q.serial) +
         "&arch=" + UrlEncode(q.arch) + "&platform=" + UrlEncode(q.platform);
}

std::string RenderInstallScript(const std::string& machine_name, const std::string& role,
                                const std::string& kernel_url, const std::string& initramfs_url,
                                const std::vector<std::string>& kernel_args) {
  std::string args;
  for (const auto& a : kernel_args) args += (args.empty() ? "" : " ") + a;
  return fmt::format(kInstallTemplate, fmt::arg("name", machine_name), fmt::arg("role", role),
                     fmt::arg("kernel", kernel_url), fmt::arg("args", args), fmt::arg("initramfs", initramfs_url),
                     fmt::arg("initrd_name", kInitramfsFileName));
}

std::string RenderUkiScript(const std::string& machine_name, const std::string& role, const std::string& uki_url) {
  return "#!ipxe\n# metalpxe: " + machine_name + " (" + role + "): the signed Talos UKI\necho metalpxe: installing " +
         machine_name + " as " + role + " from the signed UKI\nkernel " + uki_url + "\nboot\n";
}

std::string RenderBootFromDiskScript(const std::string& machine_name, BootFromDisk mode) {
  std::string s = "#!ipxe\n# metalpxe: " + machine_name + " is installed\necho metalpxe: " + machine_name +
                  " is installed, booting from its disk\n";
  s += mode == BootFromDisk::kSanboot ? "sanboot --no-describe --drive 0x80\n" : kExitToNextBootOption;
  return s;
}

std::string RenderDiscoverScript(const ServerConfig& server, const IpxeQuery& q, int retry_seconds, IpFamily family) {
  return fmt::format(
      "#!ipxe\n# metalpxe: unknown machine, held until it is accepted\n"
      "echo metalpxe: this machine ({mac}) is not in the inventory; waiting to be accepted\n"
      "sleep {secs}\n"
      "chain --replace --autofree {script_url}?{query}\n",
      fmt::arg("mac", q.mac), fmt::arg("secs", retry_seconds), fmt::arg("script_url", MachineScriptUrl(server, family)),
      fmt::arg("query", IpxeQueryString(q)));
}

std::string RenderIgnoreScript() { return std::string("#!ipxe\n# metalpxe: not ours to boot\n") + kExitToNextBootOption; }

}  // namespace metalpxe
