#include "core/config.h"

namespace metalpxe {

std::string_view DhcpModeName(DhcpMode m) {
  switch (m) {
    case DhcpMode::kFull: return "full";
    case DhcpMode::kProxy: return "proxy";
    case DhcpMode::kOff: return "off";
  }
  return "?";
}

std::string_view UnknownMachinePolicyName(UnknownMachinePolicy p) {
  switch (p) {
    case UnknownMachinePolicy::kIgnore: return "ignore";
    case UnknownMachinePolicy::kDiscover: return "discover";
    case UnknownMachinePolicy::kAutoInstall: return "auto-install";
  }
  return "?";
}

std::string_view BootFromDiskName(BootFromDisk b) {
  switch (b) {
    case BootFromDisk::kExit: return "exit";
    case BootFromDisk::kSanboot: return "sanboot";
    case BootFromDisk::kHttp404: return "http-404";
  }
  return "?";
}

std::string_view RoleName(Role r) { return r == Role::kControlPlane ? "controlplane" : "worker"; }

std::string_view BmcTypeName(BmcType t) {
  switch (t) {
    case BmcType::kIpmi: return "ipmi";
    case BmcType::kRedfish: return "redfish";
    case BmcType::kHetznerRobot: return "hetzner-robot";
    case BmcType::kWol: return "wol";
    case BmcType::kManual: return "manual";
  }
  return "?";
}

std::string_view InstallMethodName(InstallMethod m) {
  return m == InstallMethod::kKexec ? "kexec" : "image";
}

bool IsSafeKernelArg(std::string_view arg) {
  if (arg.empty()) return false;
  for (char c : arg)
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '$' || c == '#' || c == '"' || c == '\'') return false;
  return true;
}

const MachineConfig* Inventory::FindByMac(const MacAddress& mac) const {
  for (const auto& m : machines)
    for (const auto& a : m.macs)
      if (a == mac) return &m;
  return nullptr;
}

const MachineConfig* Inventory::FindByName(std::string_view name) const {
  for (const auto& m : machines)
    if (m.name == name) return &m;
  return nullptr;
}

std::string_view SecureBootChainName(SecureBootChain c) {
  switch (c) {
    case SecureBootChain::kNone: return "none";
    case SecureBootChain::kShim: return "shim";
    case SecureBootChain::kUki: return "uki";
  }
  return "none";
}

std::string_view ConfigDeliveryName(ConfigDelivery d) {
  switch (d) {
    case ConfigDelivery::kUrl: return "url";
    case ConfigDelivery::kApply: return "apply";
  }
  return "?";
}

std::string_view BootstrapModeName(BootstrapMode b) {
  switch (b) {
    case BootstrapMode::kManual: return "manual";
    case BootstrapMode::kAuto: return "auto";
  }
  return "?";
}

}  // namespace metalpxe
