#pragma once
// OpenIPMI ipmi_sim as a real IPMI 2.0 BMC for tests (LAB-NOTES.md recipe):
// a fresh state dir, lan.conf, emu file, and a chassis_control script that
// keeps the "machine's" power and boot device in files and logs every set.
#include <cstdint>
#include <memory>
#include <string>

#include "tests/support/subprocess.h"

namespace metalpxe::testing {

class IpmiSim {
 public:
  // Starts ipmi_sim inside netns, listening on 127.0.0.1:port, user
  // admin/password. Throws when it does not come up.
  IpmiSim(const std::string& netns, std::uint16_t port, const std::string& password);
  ~IpmiSim();

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::uint16_t port() const { return port_; }
  // Lines the chassis_control script got for "set", e.g. "power 1", "boot pxe".
  std::string SetLog() const;
  std::string PowerFile() const;  // "0" | "1"
  void SetPower(bool on) const;
  // ipmitool -I lanplus ... -C 3 <args>, inside the namespace.
  CommandResult Ipmitool(const std::string& args) const;

 private:
  std::string netns_, dir_, password_;
  std::uint16_t port_;
  std::unique_ptr<Subprocess> sim_;
};

}  // namespace metalpxe::testing
