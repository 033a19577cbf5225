#pragma once
// A child process for tests: real peers (perfdhcp, atftp, curl, ipmi_sim,
// qemu) run through this. Output goes to files the test can read; the child
// is killed (whole process group) when the object dies, so a failing test
// leaves nothing running.
#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace metalpxe::testing {

class Subprocess {
 public:
  // Starts argv[0] (PATH lookup) with stdout/stderr captured into files under
  // a fresh temp dir. netns: when non-empty, runs inside `ip netns exec NAME`.
  static Subprocess Start(std::vector<std::string> argv, const std::string& netns = "");
  Subprocess(Subprocess&&) noexcept;
  Subprocess& operator=(Subprocess&&) = delete;
  Subprocess(const Subprocess&) = delete;
  ~Subprocess();

  // Exit code, or nullopt on timeout (the child is then killed). A child
  // killed by a signal reports 128 + signal.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool Running();
  void Kill(int signal = 9);  // to the process group
  pid_t pid() const { return pid_; }
  std::string Stdout() const;
  std::string Stderr() const;
  std::string Describe() const;  // argv + exit + both outputs, for assertion messages

 private:
  Subprocess() = default;
  pid_t pid_ = -1;
  std::optional<int> exit_;
  std::string out_path_, err_path_, argv_text_;
};

// Runs a command to completion (bounded) and returns {exit code, stdout+stderr}.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult RunCommand(std::vector<std::string> argv, std::chrono::milliseconds timeout = std::chrono::seconds(60),
                         const std::string& netns = "");

// Polls `pred` every 20 ms until true or timeout; returns its last value.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    struct timespec ts{0, 20'000'000};
    nanosleep(&ts, nullptr);
  }
}

}  // namespace metalpxe::testing
