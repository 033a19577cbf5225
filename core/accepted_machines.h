#pragma once
// Machines accepted through the API: the rules for what may be accepted, and
// the file they are kept in (<stateDir>/accepted-machines.yaml, in the same
// form as the inventory, so `metalpxectl machines export` gives the user
// lines to commit to Git). The loader merges the file into the inventory.
#include <string>

#include "core/config.h"
#include "core/result.h"

namespace metalpxe {

struct AcceptRequest {
  std::string mac;           // as the operator typed it
  std::string name;          // becomes the hostname
  std::string role;          // "controlplane" | "worker"
  std::string profile;       // "" = boot.defaultProfile
  std::string install_disk;  // "" = the base config's
};

// The accepted MAC, or kInvalidArgument (bad name/role/profile/disk/MAC) or
// kAlreadyExists (MAC or name already in the inventory), with a message
// that says which. Whether the MAC was discovered is the caller's to check.
Result<MacAddress> ValidateAccept(const AppConfig& config, const AcceptRequest& request);

// Appends the machine to the accepted-machines file, atomically (a crash
// leaves the old file or the new one).
Status AppendAcceptedMachine(const std::string& path, const MacAddress& mac, const AcceptRequest& request);

}  // namespace metalpxe
