// metalpxed speaks systemd's notify protocol (daemon/service_notifier.h) to a
// real NOTIFY_SOCKET: a Unix datagram socket this test binds, as systemd
// does for a Type=notify unit, with SO_PASSCRED so each message carries the
// sender's pid (NotifyAccess=main accepts only the main process's). The
// daemon runs in a network namespace the test creates: READY=1 must arrive
// only once every listener is bound (checked with ss at that moment),
// WATCHDOG=1 at half of WATCHDOG_USEC, RELOADING=1/READY=1 around SIGHUP,
// STOPPING=1 on SIGTERM and exit 0; a daemon that cannot bind never says READY.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>

#include "tests/support/netns.h"
#include "tests/support/paths.h"
#include "tests/support/subprocess.h"

namespace metalpxe {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;
using testing::Subprocess;
using testing::VethPair;

struct NotifyMessage {
  std::string text;
  pid_t sender = -1;
};

// The listening end of NOTIFY_SOCKET, as systemd binds it.
class NotifySocket {
 public:
  explicit NotifySocket(const fs::path& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket(AF_UNIX)");
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
    if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) throw std::runtime_error("bind " + path.string());
    const int on = 1;
    setsockopt(fd_, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  }
  ~NotifySocket() {
    close(fd_);
    fs::remove(path_);
  }

  // The next datagram, or nullopt after `timeout`.
  std::optional<NotifyMessage> Receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buf[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = recvmsg(fd_, &msg, 0);
    if (n < 0) return std::nullopt;
    NotifyMessage out;
    out.text.assign(buf, static_cast<std::size_t>(n));
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        ucred cred{};
        std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
        out.sender = cred.pid;
      }
    return out;
  }

  // Reads until a message holding `field` (a whole line) arrives; every
  // message read is appended to `seen`.
  std::optional<NotifyMessage> WaitFor(const std::string& field, std::chrono::milliseconds timeout,
                                       std::vector<NotifyMessage>* seen) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto m = Receive(left);
      if (!m) return std::nullopt;
      seen->push_back(*m);
      if (HasLine(m->text, field)) return m;
    }
  }

  static bool HasLine(const std::string& text, const std::string& line) {
    return ("\n" + text + "\n").find("\n" + line + "\n") != std::string::npos;
  }

 private:
  fs::path path_;
  int fd_ = -1;
};

std::string StatusOf(const std::string& text) {
  std::smatch m;
  return std::regex_search(text, m, std::regex("(^|\n)STATUS=([^\n]*)")) ? m[2].str() : "";
}

class SdNotifyIt : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mpx-sdnotify-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "talos");
    std::ofstream(dir_ / "vmlinuz") << std::string(1000, 'k');
    std::ofstream(dir_ / "initramfs.xz") << std::string(1000, 'i');
    const std::string src = testing::SourceDir();
    fs::copy(src + "/deploy/examples/talos/controlplane.yaml", dir_ / "talos/controlplane.yaml");
    fs::copy(src + "/deploy/examples/talos/worker.yaml", dir_ / "talos/worker.yaml");
    std::ofstream(dir_ / "metalpxe.yaml") << R"(server:
  interface: veth-s
  address: 10.69.0.1
  stateDir: )" << (dir_ / "state").string() << R"(
  tftpRoot: /usr/lib/ipxe
dhcp:
  mode: proxy
boot:
  unknownMachines: discover
profiles:
  default:
    kernel: vmlinuz
    initramfs: initramfs.xz
    configs:
      controlplane: talos/controlplane.yaml
      worker: talos/worker.yaml
machines:
  - name: w-1
    macs: ["52:54:00:aa:00:01"]
    role: worker
)";
    net_ = std::make_unique<VethPair>("sdn", "10.69.0.1/24", "");
    notify_ = std::make_unique<NotifySocket>(dir_ / "notify");
  }

  void TearDown() override {
    if (daemon_) daemon_->Kill(SIGKILL);
    daemon_.reset();
    notify_.reset();
    net_.reset();
    fs::remove_all(dir_);
  }

  // Starts metalpxed as systemd would for a Type=notify unit with WatchdogSec.
  void StartDaemon(const std::string& watchdog_usec) {
    setenv("NOTIFY_SOCKET", (dir_ / "notify").c_str(), 1);
    setenv("WATCHDOG_USEC", watchdog_usec.c_str(), 1);
    daemon_ = std::make_unique<Subprocess>(Subprocess::Start(
        {testing::BinaryDir() + "/daemon/metalpxed", "--config", (dir_ / "metalpxe.yaml").string()},
        net_->server.name()));
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
  }

  // Sockets listening in the daemon's namespace right now (ss -H -l -n).
  std::string Listening() {
    return RunCommand({"ss", "-H", "-l", "-n", "-u", "-t"}, std::chrono::seconds(10), net_->server.name()).output;
  }

  static bool Listens(const std::string& ss, const std::string& proto, int port) {
    return std::regex_search(ss, std::regex("(^|\n)" + proto + R"(\s+\S+\s+\d+\s+\d+\s+\S+:)" + std::to_string(port) +
                                            R"(\s)"));
  }

  fs::path dir_;
  std::unique_ptr<VethPair> net_;
  std::unique_ptr<NotifySocket> notify_;
  std::unique_ptr<Subprocess> daemon_;
};

TEST_F(SdNotifyIt, ReadyAfterListenersWatchdogReloadStopping) {
  StartDaemon("400000");  // WatchdogSec=0.4s: a keep-alive every 200 ms
  std::vector<NotifyMessage> seen;
  auto ready = notify_->WaitFor("READY=1", std::chrono::seconds(30), &seen);
  ASSERT_TRUE(ready) << daemon_->Describe();
  // At the moment READY=1 arrives, every listener is bound: DHCP (67 and
  // 4011 in proxy mode), TFTP, HTTP, the event sink, kernel logs, the API.
  const std::string ss = Listening();
  EXPECT_TRUE(Listens(ss, "udp", 67)) << ss;
  EXPECT_TRUE(Listens(ss, "udp", 4011)) << ss;
  EXPECT_TRUE(Listens(ss, "udp", 69)) << ss;
  EXPECT_TRUE(Listens(ss, "tcp", 8080)) << ss;
  EXPECT_TRUE(Listens(ss, "tcp", 50101)) << ss;
  EXPECT_TRUE(Listens(ss, "tcp", 50102)) << ss;
  EXPECT_TRUE(Listens(ss, "tcp", 50100)) << ss;
  // ... and the store is open: its file exists.
  EXPECT_FALSE(fs::is_empty(dir_ / "state")) << daemon_->Describe();
  // READY was the first message, sent by the main process (NotifyAccess=main).
  ASSERT_EQ(seen.size(), 1u) << seen.front().text;
  EXPECT_EQ(ready->sender, daemon_->pid());
  EXPECT_EQ(StatusOf(ready->text), "1 machine, dhcp proxy on veth-s, http 10.69.0.1:8080, api 0.0.0.0:50100");

  // Keep-alives from the event loop at half the watchdog interval: at least
  // four in 1.5 s (one every 200 ms), none faster than systemd asked for.
  const auto t0 = std::chrono::steady_clock::now();
  int keepalives = 0;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(1500)) {
    auto m = notify_->Receive(std::chrono::milliseconds(500));
    if (m && NotifySocket::HasLine(m->text, "WATCHDOG=1")) {
      ++keepalives;
      EXPECT_EQ(m->sender, daemon_->pid());
    }
  }
  EXPECT_GE(keepalives, 4);
  EXPECT_LE(keepalives, 9);

  // systemctl reload: SIGHUP, RELOADING=1, then READY=1 with the new summary.
  std::ofstream(dir_ / "metalpxe.yaml", std::ios::app) << R"(  - name: w-2
    macs: ["52:54:00:aa:00:02"]
    role: worker
)";
  seen.clear();
  daemon_->Kill(SIGHUP);
  ASSERT_TRUE(notify_->WaitFor("RELOADING=1", std::chrono::seconds(10), &seen)) << daemon_->Describe();
  auto reloaded = notify_->WaitFor("READY=1", std::chrono::seconds(10), &seen);
  ASSERT_TRUE(reloaded) << daemon_->Describe();
  EXPECT_EQ(StatusOf(reloaded->text), "2 machines, dhcp proxy on veth-s, http 10.69.0.1:8080, api 0.0.0.0:50100");

  // systemctl stop: SIGTERM, STOPPING=1, exit 0 well within TimeoutStopSec.
  seen.clear();
  daemon_->Kill(SIGTERM);
  auto stopping = notify_->WaitFor("STOPPING=1", std::chrono::seconds(10), &seen);
  ASSERT_TRUE(stopping) << daemon_->Describe();
  EXPECT_EQ(daemon_->Wait(std::chrono::seconds(10)), 0) << daemon_->Describe();
  // Nothing after STOPPING: no keep-alive from a loop that is shutting down.
  auto after = notify_->Receive(std::chrono::milliseconds(300));
  EXPECT_FALSE(after && NotifySocket::HasLine(after->text, "WATCHDOG=1")) << after->text;
}

TEST_F(SdNotifyIt, NoReadyWhenAListenerCannotBind) {
  // Something else already holds the HTTP port in the namespace.
  testing::ScopedNetNsEnter enter(net_->server.name());
  const int busy = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(8080);
  ASSERT_EQ(bind(busy, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(listen(busy, 1), 0);

  StartDaemon("400000");
  EXPECT_EQ(daemon_->Wait(std::chrono::seconds(30)), 1) << daemon_->Describe();
  std::vector<NotifyMessage> seen;
  while (auto m = notify_->Receive(std::chrono::milliseconds(100))) seen.push_back(*m);
  for (const auto& m : seen) {
    EXPECT_FALSE(NotifySocket::HasLine(m.text, "READY=1")) << m.text;
    EXPECT_FALSE(NotifySocket::HasLine(m.text, "WATCHDOG=1")) << m.text;
  }
  ASSERT_FALSE(seen.empty());
  EXPECT_NE(StatusOf(seen.back().text).find("cannot start: "), std::string::npos) << seen.back().text;
  close(busy);
}

}  // namespace
}  // namespace metalpxe
