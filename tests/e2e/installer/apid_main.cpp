// metalpxe_standin_apid: the stand-in installer's apid (standin_apid.h) on
// its own, for the host: tests run it in a network namespace and point
// metalpxe's Talos client at it, so every failure mode of the client is
// tested without QEMU.
//
// usage: metalpxe_standin_apid --listen ADDR:PORT --address IP [options]
//   --config FILE            running mode with this machine config (mutual TLS from machine.ca)
//   --maintenance            maintenance mode (TLS, no client certificate; waits for ApplyConfiguration)
//   --then-run               maintenance: after the apply, run with the applied config
//                            (what the node does after installing and rebooting)
//   --state FILE             keep bootstrap/upgrade state here (survives a restart)
//   --not-ready-bootstraps N Bootstrap answers FailedPrecondition N times first (default 2)
//   --version vX.Y.Z         the Talos version to report (default v1.9.5)
//   --reboot-ms N            how long an upgrade's reboot keeps the API down (default 1500)
//   --installer-versions V,V the installer versions the registry has (default: every release tag)
// Prints "STANDIN-APID: ..." lines; exits on SIGTERM/SIGINT.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/e2e/installer/standin_apid.h"

namespace {

using namespace metalpxe::standin;

metalpxe::standin::StandinApid* g_apid = nullptr;
volatile std::sig_atomic_t g_signalled = 0;

struct Options {
  ApidSettings settings;
  std::string config_file;
  bool maintenance = false, then_run = false;
};

bool ParseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--maintenance") o.maintenance = true;
    else if (a == "--then-run") o.then_run = true;
    else if (a == "--listen" && has_value) o.settings.listen = argv[++i];
    else if (a == "--address" && has_value) o.settings.addresses.push_back(argv[++i]);
    else if (a == "--config" && has_value) o.config_file = argv[++i];
    else if (a == "--state" && has_value) o.settings.state_path = argv[++i];
    else if (a == "--not-ready-bootstraps" && has_value) o.settings.not_ready_bootstraps = std::atoi(argv[++i]);
    else if (a == "--version" && has_value) o.settings.talos_version = argv[++i];
    else if (a == "--installer-versions" && has_value) {
      std::stringstream list(argv[++i]);
      for (std::string v; std::getline(list, v, ',');) o.settings.installer_versions.push_back(v);
    } else if (a == "--reboot-ms" && has_value) o.settings.reboot_time = std::chrono::milliseconds(std::atoi(argv[++i]));
    else return false;
  }
  return o.maintenance != !o.config_file.empty();
}

int RunWithConfig(const std::string& config, const ApidSettings& settings) {
  auto facts = FactsFromTalosConfig(config, "", "");
  if (!facts) {
    std::fprintf(stderr, "metalpxe_standin_apid: %s\n", facts.status().message().c_str());
    return 2;
  }
  auto apid = StandinApid::Running(*facts, settings);
  if (!apid) {
    std::fprintf(stderr, "metalpxe_standin_apid: %s\n", apid.status().message().c_str());
    return 2;
  }
  g_apid = apid->get();
  if (!g_signalled) (*apid)->Serve();
  g_apid = nullptr;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, o)) {
    std::fprintf(stderr, "usage: %s --listen ADDR:PORT --address IP (--config FILE | --maintenance [--then-run]) "
                         "[--state FILE] [--not-ready-bootstraps N] [--version vX.Y.Z] [--reboot-ms N] [--installer-versions V,V]\n", argv[0]);
    return 2;
  }
  // Signals only set a flag; a watcher thread turns it into Stop() (not
  // async-signal-safe itself).
  std::signal(SIGTERM, [](int) { g_signalled = 1; });
  std::signal(SIGINT, [](int) { g_signalled = 1; });
  std::thread([] {
    while (true) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (g_signalled && g_apid) g_apid->Stop();
    }
  }).detach();

  if (!o.maintenance) {
    std::ifstream in(o.config_file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
      std::fprintf(stderr, "metalpxe_standin_apid: cannot read %s\n", o.config_file.c_str());
      return 2;
    }
    return RunWithConfig(text.str(), o.settings);
  }
  auto apid = StandinApid::Maintenance(o.settings);
  if (!apid) {
    std::fprintf(stderr, "metalpxe_standin_apid: %s\n", apid.status().message().c_str());
    return 2;
  }
  g_apid = apid->get();
  (*apid)->Serve();
  g_apid = nullptr;
  auto applied = (*apid)->applied_config();
  if (!applied || !o.then_run || g_signalled) return 0;
  std::printf("STANDIN-APID: installing with the applied config and rebooting into it\n");
  std::fflush(stdout);
  return RunWithConfig(*applied, o.settings);
}
