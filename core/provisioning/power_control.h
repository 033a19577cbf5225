#pragma once
// What the provisioning service asks of the world outside core to power a
// machine: a BMC (IPMI, Redfish), the Hetzner Robot API or wake-on-LAN, and
// a clock to wait on. Core keeps the rules (which machine, when, how many
// times, what a failure means); the daemon implements these two interfaces
// over the power drivers and its event loop, and tests over fakes or the
// real drivers against simulated BMCs.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/net_types.h"
#include "core/result.h"

namespace metalpxe {

enum class PowerAction { kStatus, kOn, kOff, kCycle };
std::string_view PowerActionName(PowerAction a);  // "status" | "on" | "off" | "cycle"

// What one reinstall attempt asks of the machine's BMC.
struct ReinstallPowerPlan {
  bool efi = true;  // next boot from the network in UEFI (else legacy) mode
  // Machines that cannot PXE-boot from us (Hetzner dedicated servers): the
  // same installer, arguments and config token, started by kexec from the
  // rescue system. `command_line` holds a secret token: never log it.
  struct Kexec {
    std::string kernel_url;
    std::string initramfs_url;
    std::string command_line;
  };
  std::optional<Kexec> kexec;
  // ... or (bmc.installMethod image) the Talos metal image of `profile`,
  // written to `install_disk` from the rescue system; the machine then boots
  // Talos from disk in maintenance mode and waits for its config.
  struct DiskImage {
    ProfileConfig profile;
    std::string install_disk;  // empty: the rescue system's only disk
  };
  std::optional<DiskImage> image;
};

// What a successful reinstall attempt knows of where the machine is now.
// Through a rescue system the machine never asks our DHCP for an address:
// the power side may know it (Hetzner: the server's main address, as Robot's
// server listing gives it), and configDelivery apply sends the config there.
struct ReinstallReached {
  std::optional<Ipv4Address> address;
  std::string address_source;  // "Hetzner Robot's address of server 321"
};

class PowerControl {
 public:
  virtual ~PowerControl() = default;

  struct Ability {
    bool reinstall = false;  // can put the machine into the installer by itself
    bool kexec = false;      // ... through rescue + kexec instead of a network boot
    std::string kind;        // "ipmi", "redfish", ... for events
  };
  // What the machine's BMC can do; an error when it has none or its
  // settings are unusable (the reason is shown to the operator).
  virtual Result<Ability> AbilityOf(const MachineConfig& machine) = 0;

  // Each runs off the caller's thread; `done` runs later on the control's
  // own thread (never inside the call), with a readable failure reason.
  virtual void Reinstall(const MachineConfig& machine, const ReinstallPowerPlan& plan,
                         std::function<void(Result<ReinstallReached>)> done) = 0;
  // The power state afterwards ("on" | "off" | "unknown").
  virtual void Act(const MachineConfig& machine, PowerAction action,
                   std::function<void(Result<std::string>)> done) = 0;
};

// Runs `fn` once after `delay` on the scheduler's thread; the returned
// handle cancels it when destroyed or reset.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  struct Handle {
    virtual ~Handle() = default;
  };
  virtual std::unique_ptr<Handle> After(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
};

}  // namespace metalpxe
