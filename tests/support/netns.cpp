#include "tests/support/netns.h"

#include <atomic>
#include <fcntl.h>
#include <sched.h>
#include <stdexcept>
#include <unistd.h>

#include "tests/support/subprocess.h"

namespace metalpxe::testing {
namespace {
std::atomic<int> g_counter{0};

void Check(const std::vector<std::string>& argv, const std::string& netns = "") {
  auto r = RunCommand(argv, std::chrono::seconds(30), netns);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    throw std::runtime_error("command failed (" + std::to_string(r.exit_code) + "): " + cmd + "\n" + r.output);
  }
}
}  // namespace

NetNs::NetNs(const std::string& tag) {
  name_ = "mpx-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(g_counter++);
  Check({"ip", "netns", "add", name_});
  Ip({"link", "set", "lo", "up"});
}

NetNs::~NetNs() {
  // Kill whatever a test left running in the namespace, then delete it.
  RunCommand({"sh", "-c", "ip netns pids " + name_ + " | xargs -r kill -9"}, std::chrono::seconds(10));
  RunCommand({"ip", "netns", "del", name_}, std::chrono::seconds(10));
}

void NetNs::Ip(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"ip", "-n", name_};
  argv.insert(argv.end(), args.begin(), args.end());
  Check(argv);
}

std::string NetNs::Sh(const std::string& command_line) const {
  auto r = RunCommand({"sh", "-c", command_line}, std::chrono::seconds(60), name_);
  if (r.exit_code != 0)
    throw std::runtime_error("in " + name_ + ": `" + command_line + "` failed (" + std::to_string(r.exit_code) +
                             "):\n" + r.output);
  return r.output;
}

VethPair::VethPair(const std::string& tag, const std::string& server_cidr, const std::string& client_cidr)
    : server(tag + "s"), client(tag + "c") {
  Check({"ip", "-n", server.name(), "link", "add", "veth-s", "type", "veth", "peer", "name", "veth-c", "netns",
         client.name()});
  if (!server_cidr.empty()) server.Ip({"addr", "add", server_cidr, "dev", "veth-s"});
  if (!client_cidr.empty()) client.Ip({"addr", "add", client_cidr, "dev", "veth-c"});
  server.Ip({"link", "set", "veth-s", "up"});
  client.Ip({"link", "set", "veth-c", "up"});
}

ScopedNetNsEnter::ScopedNetNsEnter(const std::string& name) {
  old_fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const int fd = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (old_fd_ < 0 || fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("cannot enter network namespace " + name);
  }
  close(fd);
}

ScopedNetNsEnter::~ScopedNetNsEnter() {
  if (old_fd_ >= 0) {
    setns(old_fd_, CLONE_NEWNET);
    close(old_fd_);
  }
}

}  // namespace metalpxe::testing
