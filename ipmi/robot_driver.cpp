#include "ipmi/robot_driver.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "ipmi/robot_codec.h"
#include "ipmi/ssh_exec.h"

namespace metalpxe {

RobotPowerDriver::RobotPowerDriver(std::string server_number, std::string user, Secret password,
                                   PowerContext context)
    : server_number_(std::move(server_number)),
      context_(std::move(context)),
      robot_(context_.robot_base_url, std::move(user), std::move(password),
             HttpClientOptions{context_.request_timeout, true,
                               context_.robot_ca_file.empty() ? context_.ca_file : context_.robot_ca_file}, context_.retry) {}

PowerCapabilities RobotPowerDriver::Capabilities() const {
  return {.power_state = false, .power_on = true, .power_off = true, .power_cycle = true, .network_boot = false,
          .kexec_reinstall = true};
}

Result<PowerState> RobotPowerDriver::GetPowerState() {
  auto server = robot_.GetServer(server_number_);
  if (!server.ok()) return server.status();
  return PowerState::kUnknown;
}

Status RobotPowerDriver::PowerOn() { return robot_.WakeOnLan(server_number_); }

Status RobotPowerDriver::PowerOff() {
  auto types = robot_.ResetTypes(server_number_);
  if (!types.ok()) return types.status();
  if (std::find(types->begin(), types->end(), "power_long") == types->end())
    return {ErrorCode::kUnsupported, "Hetzner Robot offers no forced power-off (power_long) for server " + server_number_};
  return robot_.Reset(server_number_, "power_long");
}

Status RobotPowerDriver::PowerCycle() { return robot_.Reset(server_number_, "hw"); }

Status RobotPowerDriver::SetNextBootNetwork(bool) {
  return {ErrorCode::kUnsupported,
          "Hetzner Robot servers cannot network-boot from metalpxe; reinstall goes through the rescue system"};
}

Result<std::vector<std::string>> RobotPowerDriver::RescueResetTypes() {
  auto types = robot_.ResetTypes(server_number_);
  if (!types.ok()) return types.status();
  std::vector<std::string> out;
  for (const char* t : {"sw", "hw", "power"})
    if (std::find(types->begin(), types->end(), t) != types->end()) out.push_back(t);
  if (out.empty()) {
    std::string all;
    for (const auto& t : *types) all += (all.empty() ? "" : " ") + t;
    return Status{ErrorCode::kUnsupported, "Hetzner Robot offers no automatic reset (sw, hw or power) for server " +
                                               server_number_ + "; only: " + (all.empty() ? std::string("none") : all)};
  }
  return out;
}

Result<RobotPowerDriver::Rescue> RobotPowerDriver::BootRescue(const std::string& reset_type) {
  Result<std::string> fingerprint = context_.ssh_key_fingerprint.empty()
                                        ? SshKeyMd5Fingerprint(context_.ssh_private_key_file)
                                        : Result<std::string>(context_.ssh_key_fingerprint);
  if (!fingerprint.ok()) return fingerprint.status();
  auto server = robot_.GetServer(server_number_);
  if (!server.ok()) return server.status();
  // A fresh activation each time: its host keys are the ones to pin.
  auto rescue = robot_.ActivateRescue(server_number_, *fingerprint);
  if (!rescue.ok()) return rescue.status();
  if (rescue->host_key_fingerprints.empty())
    return Status{ErrorCode::kFailedPrecondition,
                  "Hetzner Robot activated the rescue system of server " + server_number_ +
                      " without listing its SSH host keys; metalpxe does not trust a host key on first use, so "
                      "the server was not reset"};
  if (Status s = robot_.Reset(server_number_, reset_type); !s.ok()) return s;
  spdlog::info("robot server {}: reset {}, waiting for the rescue system on {}:{}", server_number_, reset_type,
               server->server_ip, context_.ssh_port);
  return Rescue{server->server_ip, rescue->host_key_fingerprints, reset_type};
}

Result<std::pair<RobotPowerDriver::Rescue, std::string>> RobotPowerDriver::InRescue(
    const std::string& script, const std::string& stdin_file, std::string_view marker, bool may_end_without_status) {
  auto types = RescueResetTypes();
  if (!types.ok()) return types.status();
  // Gentlest first: sw (Ctrl+Alt+Del) needs a responsive OS; when the rescue
  // system does not come up after it, hw, then power, as Robot offers them.
  for (std::size_t i = 0; i < types->size(); ++i) {
    auto rescue = BootRescue((*types)[i]);
    if (!rescue.ok()) return rescue.status();
    auto out = RunInRescue(*rescue, script, stdin_file, marker, may_end_without_status);
    if (out.ok()) return std::pair{*rescue, *out};
    if (out.status().code() != ErrorCode::kUnavailable || i + 1 == types->size()) return out.status();
    spdlog::warn("robot server {}: no rescue system after reset {}; escalating to reset {}", server_number_,
                 (*types)[i], (*types)[i + 1]);
  }
  return Status{ErrorCode::kInternal, "unreachable"};
}

Result<std::string> RobotPowerDriver::RunInRescue(const Rescue& rescue, const std::string& script,
                                                  const std::string& stdin_file, std::string_view marker,
                                                  bool may_end_without_status) {
  SshTarget target{rescue.ip, context_.ssh_port, "root", context_.ssh_private_key_file, rescue.host_keys};
  const auto deadline = std::chrono::steady_clock::now() + context_.rescue_timeout;
  const auto run_timeout = std::max(context_.request_timeout * 6, std::chrono::milliseconds(600'000));
  Status last{ErrorCode::kUnavailable, "rescue system not reached"};
  while (std::chrono::steady_clock::now() < deadline) {
    auto run = SshExec(target, "sh -c " + ShellQuote(script), run_timeout, stdin_file);
    if (run.ok()) {
      const auto at = run->output.find(marker);
      const bool status_ok = run->exit_status ? *run->exit_status == 0 : may_end_without_status;
      if (at != std::string::npos && status_ok) {
        const auto eol = run->output.find('\n', at);
        return run->output.substr(at, eol == std::string::npos ? std::string::npos : eol - at);
      }
      std::string tail = run->output.substr(run->output.size() > 400 ? run->output.size() - 400 : 0);
      while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
      return Status{ErrorCode::kInternal, "rescue system of server " + server_number_ + ": install step failed (exit " +
                                              (run->exit_status ? std::to_string(*run->exit_status) : "none") +
                                              "): " + tail};
    }
    last = run.status();
    const bool not_pinned = last.code() == ErrorCode::kFailedPrecondition &&
                            last.message().find(kHostKeyNotPinned) != std::string::npos;
    // The old OS may still answer for a moment, with its own host key and
    // without our key: keep polling, having sent it nothing.
    if (last.code() != ErrorCode::kUnavailable && !not_pinned) return last;
    SleepFor(std::chrono::milliseconds(std::min<long long>(2000, context_.request_timeout.count())));
  }
  if (last.code() == ErrorCode::kFailedPrecondition)
    return Status{ErrorCode::kPermissionDenied, "rescue system of server " + server_number_ +
                                                    " never proved itself: " + last.message()};
  return Status{ErrorCode::kUnavailable, "rescue system of server " + server_number_ + " did not come up: " + last.message()};
}

Status RobotPowerDriver::ReinstallWithKexec(const KexecInstall& install) {
  if (install.kernel_url.empty() || install.initramfs_url.empty())
    return {ErrorCode::kInvalidArgument, "kexec reinstall needs kernel and initramfs URLs"};
  // kexec -e ends the session on a real machine: no exit status, marker seen.
  auto done = InRescue(BuildKexecScript(install.kernel_url, install.initramfs_url, install.command_line), "",
                       kKexecLoadedMarker, true);
  if (!done.ok()) return done.status();
  spdlog::info("robot server {}: installer kexec'd from the rescue system", server_number_);
  reached_ = ReachedAddress{done->first.ip, "Hetzner Robot's address of server " + server_number_};
  return Status::Ok();
}

Status RobotPowerDriver::ReinstallWithImage(const DiskImageInstall& image) {
  if (image.file.empty() || image.sha256.size() != 64)
    return {ErrorCode::kInvalidArgument, "image reinstall needs a verified image file and its sha256"};
  auto written = InRescue(BuildImageInstallScript(image.disk, image.sha256, image.compression), image.file,
                          kImageWrittenMarker, false);
  if (!written.ok()) return written.status();
  spdlog::info("robot server {}: {}", server_number_, written->second);
  // The rescue activation was used up by the reset that booted it: the same
  // kind of reset now boots the disk, i.e. Talos in maintenance mode.
  if (Status s = robot_.Reset(server_number_, written->first.reset_type); !s.ok())
    return {s.code(), "image written, but the reset into Talos failed: " + s.message()};
  reached_ = ReachedAddress{written->first.ip, "Hetzner Robot's address of server " + server_number_};
  return Status::Ok();
}

}  // namespace metalpxe
