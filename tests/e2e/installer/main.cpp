// metalpxe_standin_installer: what the Talos installer does on the wire, and
// nothing more. Run as the last step of the lab initramfs's /init, once udhcpc
// has an address. Every step prints a "STANDIN: ..." line on the console (the
// VM's serial log), which the e2e tests grep. The initramfs's /init does the
// reboot. The config token is a secret:
// the config URL is never printed.
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "tests/e2e/installer/config_fetch.h"
#include "tests/e2e/installer/disk_marker.h"
#include "tests/e2e/installer/kernel_cmdline.h"
#include "tests/e2e/installer/kmsg_streamer.h"
#include "tests/e2e/installer/talos_config_identity.h"
#include "tests/e2e/installer/event_sink_client.h"

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
  Say("talos.config present; events sink %s; kernel logs %s",
      args->events_sink ? (args->events_sink->host + ":" + std::to_string(args->events_sink->port)).c_str() : "none",
      args->logging_kernel ? (args->logging_kernel->host + ":" + std::to_string(args->logging_kernel->port)).c_str()
                           : "none");

  std::unique_ptr<KmsgStreamer> kmsg;
  if (args->logging_kernel) kmsg = std::make_unique<KmsgStreamer>(*args->logging_kernel);

#ifdef METALPXE_STANDIN_HAVE_EVENTS
  std::unique_ptr<EventSinkClient> events;
  if (args->events_sink) events = std::make_unique<EventSinkClient>(*args->events_sink);
  const auto publish = [&](auto&& fn) {
    if (events) fn(*events);
  };
#else
  const auto publish = [](auto&&) {};  // built without the api protos
  if (args->events_sink) Say("events: this build has no gRPC event client");
#endif
  publish([](auto& e) { e.MachineStatus(MachineStage::kInstalling, false); });
  publish([](auto& e) { e.Sequence("install", SequenceAction::kStart); });
  publish([](auto& e) { e.Phase("validateConfig", PhaseAction::kStart); });

  auto fetched = FetchConfig(args->config_url, std::chrono::seconds(90));
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
  auto id = IdentityFromTalosConfig(fetched->body);
  if (!id) {
    Say("FAILED config parse: %s", id.status().message().c_str());
    Finish(false);
  }
  Say("config hostname=%s role=%s fixture=%s", id->hostname.c_str(), id->role.c_str(),
      id->marker.empty() ? "-" : id->marker.c_str());
  if (args->expect_hostname) {
    if (*args->expect_hostname != id->hostname || *args->expect_role != id->role) {
      Say("FAILED config is not mine: expected hostname=%s role=%s", args->expect_hostname->c_str(),
          args->expect_role->c_str());
      Finish(false);
    }
    Say("config is mine");
  }
  publish([](auto& e) { e.Task("validateConfig", TaskAction::kStart); });
  publish([](auto& e) { e.Task("validateConfig", TaskAction::kStop); });
  publish([](auto& e) { e.Phase("validateConfig", PhaseAction::kStop); });

  publish([](auto& e) { e.Phase("install", PhaseAction::kStart); });
  publish([](auto& e) { e.Task("install", TaskAction::kStart); });
  if (auto st = WriteMarker(args->disk, *id); !st.ok()) {
    Say("FAILED writing marker: %s", st.message().c_str());
    Finish(false);
  }
  Say("marker written to %s", args->disk.c_str());
  KernelLog("installed " + id->hostname + " as " + id->role);
  publish([](auto& e) { e.Task("install", TaskAction::kStop); });
  publish([](auto& e) { e.Phase("install", PhaseAction::kStop); });
  publish([](auto& e) { e.Sequence("install", SequenceAction::kStop); });
  publish([](auto& e) { e.MachineStatus(MachineStage::kRebooting, false); });

#ifdef METALPXE_STANDIN_HAVE_EVENTS
  if (events) Say("events published %d ok, %d failed", events->published(), events->failed());
#endif
  if (kmsg) {
    kmsg->FlushAndStop(std::chrono::seconds(5));
    Say("kernel log lines sent %llu", static_cast<unsigned long long>(kmsg->lines_sent()));
  }
  Say("install done");
  Finish(true);
}
