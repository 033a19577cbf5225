#pragma once
// The machine config's network settings applied to the stand-in's system, as
// Talos's network controllers would once the config is loaded: the hostname
// and a static address (with its default route) on the machine's NIC, next
// to the DHCP lease the initramfs took. Uses busybox `ip` and sethostname().
#include <string>
#include <vector>

#include "core/result.h"
#include "tests/e2e/installer/machine_config_facts.h"

namespace metalpxe::standin {

struct Nic {
  std::string name;  // "eth0"
  std::string mac;   // "52:54:00:e2:e0:01"
};

// The first non-loopback interface in /sys/class/net.
Result<Nic> FirstNic();

// Sets the hostname and adds the static address; returns what it did, for the log.
Result<std::string> ApplyNodeNetwork(const MachineConfigFacts& facts, const Nic& nic);

// The IPv4 addresses on the NIC now (for the apid certificate's SANs).
std::vector<std::string> NicAddresses(const Nic& nic);

}  // namespace metalpxe::standin
