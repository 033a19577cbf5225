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
             HttpClientOptions{context_.request_timeout, true, context_.ca_file}, context_.retry) {}

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
          "Hetzner Robot servers cannot network-boot from metalpxe; reinstall goes through rescue + kexec"};
}

Status RobotPowerDriver::ReinstallWithKexec(const KexecInstall& install) {
  if (install.kernel_url.empty() || install.initramfs_url.empty())
    return {ErrorCode::kInvalidArgument, "kexec reinstall needs kernel and initramfs URLs"};
  auto fingerprint = SshKeyMd5Fingerprint(context_.ssh_private_key_file);
  if (!fingerprint.ok()) return fingerprint.status();
  auto server = robot_.GetServer(server_number_);
  if (!server.ok()) return server.status();
  auto rescue = robot_.ActivateRescue(server_number_, *fingerprint);
  if (!rescue.ok()) return rescue.status();
  if (Status s = robot_.Reset(server_number_, "hw"); !s.ok()) return s;
  spdlog::info("robot server {}: waiting for the rescue system on {}:{}", server_number_, server->server_ip,
               context_.ssh_port);

  // The old OS may still answer for a moment, with keys that are not ours:
  // poll until our key gets in (the rescue system) or the deadline passes.
  const SshTarget target{server->server_ip, context_.ssh_port, "root", context_.ssh_private_key_file};
  const std::string script = BuildKexecScript(install.kernel_url, install.initramfs_url, install.command_line);
  const auto deadline = std::chrono::steady_clock::now() + context_.rescue_timeout;
  Status last{ErrorCode::kUnavailable, "rescue system not reached"};
  while (std::chrono::steady_clock::now() < deadline) {
    auto run = SshExec(target, "sh -c " + ShellQuote(script), std::max(context_.request_timeout * 6,
                                                                      std::chrono::milliseconds(60'000)));
    if (run.ok()) {
      const bool loaded = run->output.find(kKexecLoadedMarker) != std::string::npos;
      // kexec -e ends the session on a real machine: no exit status, marker seen.
      if (loaded && (!run->exit_status || *run->exit_status == 0)) {
        spdlog::info("robot server {}: installer kexec'd from the rescue system", server_number_);
        return Status::Ok();
      }
      std::string tail = run->output.substr(run->output.size() > 400 ? run->output.size() - 400 : 0);
      return {ErrorCode::kInternal, "rescue system of server " + server_number_ + ": kexec step failed (exit " +
                                        (run->exit_status ? std::to_string(*run->exit_status) : "none") + "): " + tail};
    }
    last = run.status();
    if (last.code() != ErrorCode::kUnavailable) return last;
    SleepFor(std::chrono::milliseconds(std::min<long long>(2000, context_.request_timeout.count())));
  }
  return {ErrorCode::kUnavailable, "rescue system of server " + server_number_ + " did not come up: " + last.message()};
}

}  // namespace metalpxe
