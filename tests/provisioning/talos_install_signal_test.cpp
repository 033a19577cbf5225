// InterpretTalosEvent over the events Talos really sends (sequence/phase/task
// names from siderolabs/talos v1alpha1_sequencer.go and v1alpha1_controller.go).
#include "core/provisioning/talos_install_signal.h"

#include <gtest/gtest.h>

namespace metalpxe {
namespace {

using Kind = InstallSignal::Kind;

TalosEvent Seq(std::string name, std::string action, std::string error = "", std::string code = "") {
  TalosEvent e;
  e.type = kTalosSequenceEvent;
  e.known_type = true;
  e.name = std::move(name);
  e.action = std::move(action);
  e.error = std::move(error);
  e.error_code = std::move(code);
  return e;
}
TalosEvent Named(const char* type, std::string name, std::string action) {
  TalosEvent e;
  e.type = type;
  e.known_type = true;
  e.name = std::move(name);
  e.action = std::move(action);
  return e;
}
TalosEvent Stage(std::string stage) {
  TalosEvent e;
  e.type = kTalosMachineStatusEvent;
  e.known_type = true;
  e.stage = std::move(stage);
  return e;
}
TalosEvent ErrorEvent(const char* type, std::string error) {
  TalosEvent e;
  e.type = type;
  e.known_type = true;
  e.error = std::move(error);
  return e;
}

struct Row {
  const char* what;
  TalosEvent event;
  bool was_installing;
  std::optional<InstallSignal> want;
};

TEST(ApiInstallSignal, Table) {
  const InstallSignal installing{Kind::kInstalling, {}};
  const InstallSignal installed{Kind::kInstalled, {}};
  const std::string reboot_err = "sequence failed: error running phase 14 in install sequence: task 1/1: failed, unix.Reboot(1234567)";
  const std::string disk_err = "sequence failed: error running phase 4 in install sequence: task 1/1: failed, disk /dev/sda not found";
  const std::vector<Row> rows = {
      {"install sequence start runs on every boot: says nothing", Seq("install", "START"), false, std::nullopt},
      {"install sequence stop while installing", Seq("install", "STOP"), true, installed},
      {"empty install sequence of an installed machine", Seq("install", "STOP"), false, std::nullopt},
      {"install sequence ends in Talos's reboot", Seq("install", "NOOP", reboot_err, "FATAL"), true, installed},
      {"install sequence failure", Seq("install", "NOOP", disk_err, "FATAL"), true,
       InstallSignal{Kind::kFailed, "install sequence: " + disk_err}},
      {"boot failure is a failure too", Seq("boot", "NOOP", "sequence failed: boom", "FATAL"), false,
       InstallSignal{Kind::kFailed, "boot sequence: sequence failed: boom"}},
      {"locked is not a failure", Seq("install", "NOOP", "sequence not started: locked", "LOCKED"), true, std::nullopt},
      {"reboot sequence ending in reboot is fine", Seq("reboot", "NOOP", "... unix.Reboot(1234567)", "FATAL"), false,
       std::nullopt},
      {"boot start after install", Seq("boot", "START"), true, installed},
      {"boot start otherwise", Seq("boot", "START"), false, std::nullopt},
      {"initialize start", Seq("initialize", "START"), true, std::nullopt},
      {"install phase start", Named(kTalosPhaseEvent, "install", "START"), false, installing},
      {"install phase stop", Named(kTalosPhaseEvent, "install", "STOP"), true, std::nullopt},
      {"other phase", Named(kTalosPhaseEvent, "validateConfig", "START"), true, std::nullopt},
      {"install task start", Named(kTalosTaskEvent, "install", "START"), false, installing},
      {"service event", Named(kTalosServiceStateEvent, "apid", "RUNNING"), true, std::nullopt},
      {"config load error", ErrorEvent(kTalosConfigLoadErrorEvent, "HTTP 404"), false,
       InstallSignal{Kind::kFailed, "config load error: HTTP 404"}},
      {"config validation error", ErrorEvent(kTalosConfigValidationErrorEvent, "bad disk"), true,
       InstallSignal{Kind::kFailed, "config validation error: bad disk"}},
      {"stage installing", Stage("INSTALLING"), false, installing},
      {"stage running after install", Stage("RUNNING"), true, installed},
      {"stage running otherwise", Stage("RUNNING"), false, std::nullopt},
      {"stage booting while installing is the installer booting", Stage("BOOTING"), true, std::nullopt},
      {"stage rebooting", Stage("REBOOTING"), true, std::nullopt},
      {"unknown type", Named("machine.FutureEvent", "install", "START"), true, std::nullopt},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(InterpretTalosEvent(r.event, r.was_installing), r.want) << r.what;
  }
}

TEST(ApiInstallSignal, RebootErrorText) {
  EXPECT_TRUE(IsTalosRebootError("task 1/1: failed, unix.Reboot(1234567)"));
  EXPECT_FALSE(IsTalosRebootError("reboot failed"));
}

}  // namespace
}  // namespace metalpxe
