#include "tests/support/subprocess.h"

#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace metalpxe::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Subprocess Subprocess::Start(std::vector<std::string> argv, const std::string& netns) {
  if (!netns.empty()) argv.insert(argv.begin(), {"ip", "netns", "exec", netns});
  char dir_template[] = "/tmp/mpx-proc-XXXXXX";
  if (!mkdtemp(dir_template)) throw std::runtime_error("mkdtemp failed");
  Subprocess p;
  p.out_path_ = std::string(dir_template) + "/stdout";
  p.err_path_ = std::string(dir_template) + "/stderr";
  for (const auto& a : argv) p.argv_text_ += (p.argv_text_.empty() ? "" : " ") + a;

  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    setpgid(0, 0);
    // Die with the test process, so a crashed test leaves no peer behind.
    const int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    const int out = open(p.out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(p.err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(err, 2);
    execvp(cargv[0], cargv.data());
    _exit(127);
  }
  setpgid(pid, pid);
  p.pid_ = pid;
  return p;
}

Subprocess::Subprocess(Subprocess&& o) noexcept
    : pid_(o.pid_), exit_(o.exit_), out_path_(std::move(o.out_path_)), err_path_(std::move(o.err_path_)),
      argv_text_(std::move(o.argv_text_)) {
  o.pid_ = -1;
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !exit_) {
    Kill(SIGKILL);
    Wait(std::chrono::seconds(5));
  }
}

std::optional<int> Subprocess::Wait(std::chrono::milliseconds timeout) {
  if (exit_ || pid_ <= 0) return exit_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      Kill(SIGKILL);
      waitpid(pid_, &status, 0);
      exit_ = 128 + SIGKILL;
      return std::nullopt;
    }
    usleep(10'000);
  }
}

bool Subprocess::Running() {
  if (exit_ || pid_ <= 0) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

void Subprocess::Kill(int signal) {
  if (pid_ > 0 && !exit_) {
    ::kill(-pid_, signal);
    ::kill(pid_, signal);
  }
}

std::string Subprocess::Stdout() const { return ReadFile(out_path_); }
std::string Subprocess::Stderr() const { return ReadFile(err_path_); }

std::string Subprocess::Describe() const {
  std::ostringstream s;
  s << "$ " << argv_text_ << "\nexit: " << (exit_ ? std::to_string(*exit_) : "running") << "\n--- stdout ---\n"
    << Stdout() << "\n--- stderr ---\n"
    << Stderr();
  return s.str();
}

CommandResult RunCommand(std::vector<std::string> argv, std::chrono::milliseconds timeout, const std::string& netns) {
  auto p = Subprocess::Start(std::move(argv), netns);
  auto code = p.Wait(timeout);
  return {code.value_or(-1), p.Stdout() + p.Stderr()};
}

}  // namespace metalpxe::testing
