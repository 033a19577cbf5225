#include "core/accepted_machines.h"

#include <filesystem>
#include <fstream>

#include <yaml-cpp/yaml.h>

namespace metalpxe {
namespace {

bool IsHostname(const std::string& s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

}  // namespace

Result<MacAddress> ValidateAccept(const AppConfig& config, const AcceptRequest& req) {
  const auto mac = MacAddress::Parse(req.mac);
  if (!mac) return Status{ErrorCode::kInvalidArgument, "'" + req.mac + "' is not a MAC address"};
  if (!IsHostname(req.name))
    return Status{ErrorCode::kInvalidArgument, "name '" + req.name + "' is not a host name (a-z, 0-9, '-')"};
  if (req.role != "controlplane" && req.role != "worker")
    return Status{ErrorCode::kInvalidArgument, "role must be controlplane or worker"};
  if (!req.install_disk.empty() && req.install_disk[0] != '/')
    return Status{ErrorCode::kInvalidArgument, "install disk must be a device path like /dev/sda"};
  if (!req.profile.empty() && !config.profiles.count(req.profile))
    return Status{ErrorCode::kInvalidArgument, "profile '" + req.profile + "' is not defined"};
  if (config.inventory && config.inventory->FindByMac(*mac))
    return Status{ErrorCode::kAlreadyExists, "machine " + mac->ToString() + " is already in the inventory"};
  if (config.inventory && config.inventory->FindByName(req.name))
    return Status{ErrorCode::kAlreadyExists, "a machine named " + req.name + " is already in the inventory"};
  return *mac;
}

Status AppendAcceptedMachine(const std::string& path, const MacAddress& mac, const AcceptRequest& req) {
  YAML::Node root;
  if (std::filesystem::exists(path)) {
    try {
      root = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
      return Status{ErrorCode::kInternal, path + " is damaged: " + e.msg};
    }
  }
  YAML::Node m;
  m["name"] = req.name;
  m["macs"].push_back(mac.ToString());
  m["role"] = req.role;
  if (!req.profile.empty()) m["profile"] = req.profile;
  if (!req.install_disk.empty()) m["installDisk"] = req.install_disk;
  root["machines"].push_back(m);
  YAML::Emitter out;
  out << root;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << "# Machines accepted with metalpxectl; `metalpxectl machines export` prints them\n"
         "# for your Git inventory.\n"
      << out.c_str() << "\n";
    f.flush();
    if (!f) return Status{ErrorCode::kInternal, "cannot write " + tmp};
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status{ErrorCode::kInternal, "cannot replace " + path + ": " + ec.message()};
  return Status::Ok();
}

}  // namespace metalpxe
