// metalpxe_standin_installer: what a Talos node does on the wire, and
// nothing more. Run as the last step of the lab initramfs's /init, once
// udhcpc has an address. Three lives, chosen by the kernel command line:
//   - talos.config=URL: Talos's initialize sequence loads the config (fetched
//     BEFORE anything reports INSTALLING), the network settings of the config
//     apply (hostname, static address), then the install sequence writes to
//     machine.install.disk and ends with Talos's reboot error,
//     "unix.Reboot(1234567)";
//   - no talos.config: maintenance mode; the stand-in apid takes
//     ApplyConfiguration over TLS without a client certificate, then installs
//     with that config;
//   - standin.boot=disk (the installed disk's boot entry): the installed node,
//     its config read back from the disk, runs the stand-in apid with mutual
//     TLS from machine.ca until powered off.
// Every step prints a "STANDIN: ..." line on the console (the VM's serial
// log), which the e2e tests grep. The initramfs's /init does the reboot. The
// config token and the config are secrets: neither is ever printed.
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "tests/e2e/installer/config_fetch.h"
#include "tests/e2e/installer/disk_marker.h"
#include "tests/e2e/installer/event_sink_client.h"
#include "tests/e2e/installer/kernel_cmdline.h"
#include "tests/e2e/installer/kmsg_streamer.h"
#include "tests/e2e/installer/machine_config_facts.h"
#include "tests/e2e/installer/node_network.h"
#include "tests/e2e/installer/standin_apid.h"
#include "tests/e2e/installer/talos_config_identity.h"

namespace {

using namespace metalpxe::standin;

void Say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void Say(const char* fmt, ...) {
  std::fputs("STANDIN: ", stdout);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stdout, fmt, ap);
  va_end(ap);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// Also into the kernel log, so the line travels over talos.logging.kernel.
void KernelLog(const std::string& text) {
  std::ofstream kmsg("/dev/kmsg");
  if (kmsg) kmsg << "<6>standin: " << text << "\n";
}

// The initramfs's /init reboots (exit 0: installed) or powers off (failure),
// as PID 1 must not exit.
[[noreturn]] void Finish(bool installed) {
  sync();
  Say("%s", installed ? "rebooting" : "giving up");
  std::exit(installed ? 0 : 1);
}

// The talos.events.sink publisher, when there is one.
struct Events {
  std::unique_ptr<EventSinkClient> client;
  template <typename F>
  void operator()(F&& fn) {
    if (client) fn(*client);
  }
};

// Talos's install sequence phases (v1alpha1_sequencer.go) after "install",
// up to "reboot", whose task ends the sequence with the reboot error.
constexpr const char* kPhasesAfterInstall[] = {"meta",           "saveMeta", "denyNewServices", "volumeFinalize",
                                               "stopEverything", "kexec"};
constexpr int kRebootPhaseNumber = 9;  // env, install, 6 above, reboot
constexpr const char* kRebootError = "unix.Reboot(1234567)";  // RebootError, formatted unix.Reboot(%x)

// Initialize sequence up to and including its "config" phase: the config is
// loaded before anything says INSTALLING.
std::string LoadConfigFromUrl(const StandinArgs& args, Events& publish, KmsgStreamer* kmsg) {
  publish([](auto& e) { e.MachineStatus(MachineStage::kBooting, false); });
  publish([](auto& e) { e.Sequence("initialize", SequenceAction::kStart); });
  publish([](auto& e) { e.Phase("config", PhaseAction::kStart); });
  publish([](auto& e) { e.Task("loadConfig", TaskAction::kStart); });
  auto fetched = FetchConfig(args.config_url, std::chrono::seconds(90));
  if (!fetched) {
    Say("FAILED config fetch: %s", fetched.status().message().c_str());
    Finish(false);
  }
  if (fetched->http_status != 200) {
    Say("config refused: HTTP %ld", fetched->http_status);
    KernelLog("config refused");
    if (kmsg) kmsg->FlushAndStop(std::chrono::seconds(3));
    Finish(false);
  }
  Say("config fetched (%zu bytes)", fetched->body.size());
  publish([](auto& e) { e.Task("loadConfig", TaskAction::kStop); });
  publish([](auto& e) { e.Phase("config", PhaseAction::kStop); });
  publish([](auto& e) { e.Sequence("initialize", SequenceAction::kStop); });
  return std::move(fetched->body);
}

// Maintenance mode: apid without client certificates until a config arrives.
std::string LoadConfigByApply(const Nic& nic, Events& publish) {
  publish([](auto& e) { e.MachineStatus(MachineStage::kMaintenance, false); });
  ApidSettings settings;
  settings.addresses = NicAddresses(nic);
  auto apid = StandinApid::Maintenance(settings);
  if (!apid) {
    Say("FAILED starting the maintenance API: %s", apid.status().message().c_str());
    Finish(false);
  }
  Say("maintenance mode: waiting for ApplyConfiguration on port 50000");
  (*apid)->Serve();
  auto config = (*apid)->applied_config();
  if (!config) Finish(false);
  Say("config applied (%zu bytes)", config->size());
  return *config;
}

// Who the config says we are, checked against standin.expect; then its
// network settings, as Talos applies them once the config is loaded.
MachineConfigFacts ReadConfig(const StandinArgs& args, const std::string& config, const Nic& nic) {
  auto id = IdentityFromTalosConfig(config);
  auto facts = FactsFromTalosConfig(config, nic.name, nic.mac);
  if (!id || !facts) {
    Say("FAILED config parse: %s", (id ? facts.status() : id.status()).message().c_str());
    Finish(false);
  }
  Say("config hostname=%s role=%s fixture=%s", id->hostname.c_str(), id->role.c_str(),
      id->marker.empty() ? "-" : id->marker.c_str());
  if (args.expect_hostname) {
    if (*args.expect_hostname != id->hostname || *args.expect_role != id->role) {
      Say("FAILED config is not mine: expected hostname=%s role=%s", args.expect_hostname->c_str(),
          args.expect_role->c_str());
      Finish(false);
    }
    Say("config is mine");
  }
  auto applied = ApplyNodeNetwork(*facts, nic);
  if (!applied) {
    Say("FAILED applying the config's network: %s", applied.status().message().c_str());
    Finish(false);
  }
  Say("network from config: %s", applied->c_str());
  return *facts;
}

// The install sequence: the system disk written, then Talos's reboot error.
void Install(const StandinArgs& args, const std::string& config, const MachineConfigFacts& facts, Events& publish) {
  const std::string disk = args.disk.empty() ? facts.install_disk : args.disk;
  publish([](auto& e) { e.MachineStatus(MachineStage::kInstalling, false); });
  publish([](auto& e) { e.Sequence("install", SequenceAction::kStart); });
  publish([](auto& e) { e.Phase("env", PhaseAction::kStart); });
  publish([](auto& e) { e.Phase("env", PhaseAction::kStop); });
  publish([](auto& e) { e.Phase("install", PhaseAction::kStart); });
  publish([](auto& e) { e.Task("install", TaskAction::kStart); });
  if (disk.empty()) {
    Say("FAILED install: the config has no machine.install.disk");
    publish([](auto& e) { e.SequenceError("install", "sequence failed: install disk or disk selector not defined"); });
    Finish(false);
  }
  Say("install disk %s (%s)", disk.c_str(),
      args.disk.empty() ? "machine.install.disk"
                        : ("standin.disk; the config says " + (facts.install_disk.empty() ? "none" : facts.install_disk)).c_str());
  auto id = IdentityFromTalosConfig(config);
  metalpxe::Status written = WriteMarker(disk, *id);
  if (written.ok()) written = WriteInstalledConfig(disk, config);
  if (!written.ok()) {
    Say("FAILED installing to %s: %s", disk.c_str(), written.message().c_str());
    publish([&](auto& e) { e.SequenceError("install", "sequence failed: " + written.message()); });
    Finish(false);
  }
  Say("marker written to %s", disk.c_str());
  KernelLog("installed " + id->hostname + " as " + id->role);
  publish([](auto& e) { e.Task("install", TaskAction::kStop); });
  publish([](auto& e) { e.Phase("install", PhaseAction::kStop); });
  for (const char* phase : kPhasesAfterInstall) {
    publish([&](auto& e) { e.Phase(phase, PhaseAction::kStart); });
    publish([&](auto& e) { e.Phase(phase, PhaseAction::kStop); });
  }
  publish([](auto& e) { e.Phase("reboot", PhaseAction::kStart); });
  publish([](auto& e) { e.Task("reboot", TaskAction::kStart); });
  // The reboot task fails the sequence with the RebootError on purpose;
  // Talos's controller publishes STOP (deferred), then the error.
  const std::string error = "sequence failed: error running phase " + std::to_string(kRebootPhaseNumber) +
                            " in install sequence: " + kRebootError;
  publish([](auto& e) { e.Sequence("install", SequenceAction::kStop); });
  publish([&](auto& e) { e.SequenceError("install", error); });
  publish([](auto& e) { e.MachineStatus(MachineStage::kRebooting, false); });
  Say("install sequence ended: %s", kRebootError);
}

// The installed node: config from the disk, apid with mutual TLS, forever.
[[noreturn]] void RunInstalled(const StandinArgs& args, const Nic& nic) {
  const std::string disk = args.disk.empty() ? "/dev/vda" : args.disk;
  auto config = ReadInstalledConfig(disk);
  if (!config) {
    Say("FAILED booting from disk: %s", config.status().message().c_str());
    Finish(false);
  }
  const MachineConfigFacts facts = ReadConfig(args, *config, nic);
  ApidSettings settings;
  settings.addresses = NicAddresses(nic);
  settings.state_path = disk;
  settings.state_offset = kApidStateOffset;
  auto apid = StandinApid::Running(facts, settings);
  if (!apid) {
    Say("FAILED starting apid: %s", apid.status().message().c_str());
    Finish(false);
  }
  Say("booted from disk: running");
  (*apid)->Serve();
  Finish(false);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmdline_path = argc > 1 ? argv[1] : "/proc/cmdline";
  Say("start");
  std::ifstream in(cmdline_path);
  std::stringstream text;
  text << in.rdbuf();
  auto args = StandinArgsFromCmdline(text.str());
  if (!args) {
    Say("FAILED reading kernel command line: %s", args.status().message().c_str());
    Finish(false);
  }
  auto nic = FirstNic();
  if (!nic) {
    Say("FAILED: %s", nic.status().message().c_str());
    Finish(false);
  }
  if (args->boot_from_disk) RunInstalled(*args, *nic);
  Say("%s; events sink %s; kernel logs %s", args->config_url.empty() ? "no talos.config" : "talos.config present",
      args->events_sink ? (args->events_sink->host + ":" + std::to_string(args->events_sink->port)).c_str() : "none",
      args->logging_kernel ? (args->logging_kernel->host + ":" + std::to_string(args->logging_kernel->port)).c_str()
                           : "none");

  std::unique_ptr<KmsgStreamer> kmsg;
  if (args->logging_kernel) kmsg = std::make_unique<KmsgStreamer>(*args->logging_kernel);
  Events publish;
  if (args->events_sink) publish.client = std::make_unique<EventSinkClient>(*args->events_sink);

  const std::string config =
      args->config_url.empty() ? LoadConfigByApply(*nic, publish) : LoadConfigFromUrl(*args, publish, kmsg.get());
  const MachineConfigFacts facts = ReadConfig(*args, config, *nic);
  Install(*args, config, facts, publish);

  if (publish.client)
    Say("events published %d ok, %d failed", publish.client->published(), publish.client->failed());
  if (kmsg) {
    kmsg->FlushAndStop(std::chrono::seconds(5));
    Say("kernel log lines sent %llu", static_cast<unsigned long long>(kmsg->lines_sent()));
  }
  Say("install done");
  Finish(true);
}
