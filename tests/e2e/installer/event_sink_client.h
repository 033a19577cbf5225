#pragma once
// Publishes Talos-shaped machine events to talos.events.sink as Talos does:
// unary gRPC events.EventSinkService/Publish, each EventRequest carrying a
// google.protobuf.Any-wrapped machine.* event (SequenceEvent, PhaseEvent,
// TaskEvent, MachineStatusEvent), plaintext. A failed publish is counted, not
// fatal: Talos installs whether or not anyone listens.
#include <memory>
#include <string>

#include "tests/e2e/installer/kernel_cmdline.h"

namespace metalpxe::standin {

// Values as in Talos's machine.proto.
enum class SequenceAction { kNoop = 0, kStart = 1, kStop = 2 };
enum class PhaseAction { kStart = 0, kStop = 1 };
enum class TaskAction { kStart = 0, kStop = 1 };
enum class MachineStage { kUnknown = 0, kBooting = 1, kInstalling = 2, kMaintenance = 3, kRunning = 4, kRebooting = 5 };

class EventSinkClient {
 public:
  explicit EventSinkClient(const HostPort& sink);
  ~EventSinkClient();
  EventSinkClient(const EventSinkClient&) = delete;
  EventSinkClient& operator=(const EventSinkClient&) = delete;

  void Sequence(const std::string& sequence, SequenceAction action);
  void Phase(const std::string& phase, PhaseAction action);
  void Task(const std::string& task, TaskAction action);
  void MachineStatus(MachineStage stage, bool ready);
  // A SequenceEvent NOOP carrying the error a sequence ended with (code FATAL),
  // as Talos's controller publishes it after the sequence's STOP.
  void SequenceError(const std::string& sequence, const std::string& message);

  int published() const { return published_; }
  int failed() const { return failed_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int published_ = 0, failed_ = 0;
};

}  // namespace metalpxe::standin
