#pragma once
// One interface for every way metalpxe can switch a machine on, off, or into
// a network boot: IPMI (FreeIPMI), Redfish, Hetzner Robot, wake-on-LAN and
// "manual". Every call blocks (network round trips, retries with backoff), so
// callers run them off the event loop, e.g. through PowerExecutor.
//
// Errors are classified through Status codes, so the machine state can carry
// a reason a human can act on (see PowerFailureReason):
//   kUnavailable        BMC unreachable / timed out
//   kPermissionDenied   authentication failed (wrong user/password, TLS trust)
//   kUnsupported        the BMC or driver cannot do this (e.g. manual, WoL off)
//   kResourceExhausted  rate limited even after backing off (Robot)
//   kFailedPrecondition the BMC is busy with something else (Robot: a manual reset)
//   kInternal           the BMC answered with an error
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/net_types.h"
#include "core/result.h"
#include "ipmi/retry.h"

namespace metalpxe {

enum class PowerState { kOn, kOff, kUnknown };
std::string_view PowerStateName(PowerState s);  // "on" | "off" | "unknown"

// What a driver can do, so orchestration picks a reinstall path without
// trying and failing: network boot + cycle for IPMI/Redfish, rescue + kexec
// for Hetzner Robot, nothing automatic for wol/manual.
struct PowerCapabilities {
  bool power_state = false;
  bool power_on = false;
  bool power_off = false;
  bool power_cycle = false;
  bool network_boot = false;     // SetNextBootNetwork works
  bool kexec_reinstall = false;  // ReinstallWithKexec works
};

// A reinstall that does not go through PXE (Hetzner: no own DHCP possible):
// the same kernel, initramfs and command line (Talos args + config token) a
// PXE install gets, downloaded by the machine over HTTP and kexec'd.
struct KexecInstall {
  std::string kernel_url;
  std::string initramfs_url;
  std::string command_line;
};

// A reinstall that writes the Talos metal disk image from a rescue system
// (Hetzner, installMethod image): metalpxe's verified copy is streamed to it.
struct DiskImageInstall {
  std::string file;         // local path in metalpxe's cache
  std::string sha256;       // of `file` (compressed), checked again by the rescue system
  std::string compression;  // "zstd" | "xz"
  std::string disk;         // installDisk; empty = the rescue system's only disk
};

// Everything the drivers need beyond the machine's BmcConfig.
struct PowerContext {
  std::chrono::milliseconds request_timeout{10'000};  // one BMC request
  RetryPolicy retry;                                  // around each action
  std::string interface;     // wol: the serving interface (SO_BINDTODEVICE); empty = routing decides
  std::uint16_t wol_port = 9;
  std::string ca_file;       // redfish/robot: extra CA bundle; empty = system store
  std::string robot_base_url = "https://robot-ws.your-server.de";  // power.hetznerRobot.url
  std::string robot_ca_file;  // power.hetznerRobot.caFile; empty = ca_file, then the system store
  std::string ssh_private_key_file;   // robot: the machine's bmc.sshKeyFile (registered in Robot)
  std::string ssh_key_fingerprint;    // robot: its MD5 fingerprint; empty = derive with libssh
  InstallMethod install_method = InstallMethod::kImage;  // robot: bmc.installMethod
  std::uint16_t ssh_port = 22;        // robot rescue SSH port (tests use another)
  std::chrono::milliseconds rescue_timeout{600'000};  // reset -> rescue SSH reachable
};

// Where a machine reinstalled through a rescue system is afterwards, and
// who said so (it never asked our DHCP for an address).
struct ReachedAddress {
  std::string address;  // dotted IPv4
  std::string source;   // "Hetzner Robot's address of server 321"
};

class PowerDriver {
 public:
  virtual ~PowerDriver() = default;
  virtual std::string_view Kind() const = 0;  // BmcTypeName of its type
  virtual PowerCapabilities Capabilities() const = 0;

  virtual Result<PowerState> GetPowerState() = 0;
  virtual Status PowerOn() = 0;
  virtual Status PowerOff() = 0;   // hard off
  // Off -> on; on -> cycle. A machine that is off is powered on.
  virtual Status PowerCycle() = 0;
  // Next boot (once) from the network, UEFI or legacy BIOS.
  virtual Status SetNextBootNetwork(bool efi) = 0;
  // Drivers that cannot network-boot (Hetzner Robot) reinstall this way.
  virtual Status ReinstallWithKexec(const KexecInstall& install);
  // ... or by writing the disk image from the rescue system; on success the
  // machine boots Talos from its disk (maintenance mode, waiting for config).
  virtual Status ReinstallWithImage(const DiskImageInstall& image);
  // After one of those succeeded: where the machine is now (Hetzner: the
  // server's main address from Robot's server listing); nullopt: unknown.
  virtual std::optional<ReachedAddress> Reached() const { return std::nullopt; }
};

// Builds the driver for bmc.type. mac is the machine's boot MAC (wol).
// Fails with kInvalidArgument on an unusable config (bad address, ...).
Result<std::unique_ptr<PowerDriver>> MakePowerDriver(const BmcConfig& bmc, const MacAddress& mac,
                                                     const PowerContext& context);

// The reinstall sequence orchestration runs on a worker thread: network boot
// once + power cycle where the driver can, else rescue + kexec with `kexec`.
struct ReinstallPlan {
  bool efi = true;
  KexecInstall kexec;                    // used only by drivers with kexec_reinstall
  std::optional<DiskImageInstall> image;  // set: those drivers write this image instead
};
Status StartReinstall(PowerDriver& driver, const ReinstallPlan& plan);

// "unreachable: ...", "authentication failed: ...", "unsupported: ...",
// "rate limited: ...", "busy: ...", "BMC error: ..." — what the machine state shows.
std::string PowerFailureReason(const Status& status);

}  // namespace metalpxe
