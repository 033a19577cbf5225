#include "tests/e2e/installer/kmsg_streamer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "tests/e2e/installer/kmsg_record.h"

namespace metalpxe::standin {

namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { if (fd_ >= 0) close(fd_); }
  Fd(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept { std::swap(fd_, other.fd_); return *this; }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// IPv4 or IPv6 (talos.logging.kernel=tcp://[address6]:port).
Fd Connect(const HostPort& target) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, target.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(target.port));
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, target.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(target.port));
    len = sizeof *v6;
  } else {
    return Fd();
  }
  Fd fd(socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Fd();
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return Fd();
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Wall clock at boot, so a record's monotonic stamp becomes talos-time.
uint64_t BootTimeUnixUsec() {
  timespec real{}, mono{};
  clock_gettime(CLOCK_REALTIME, &real);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  const auto usec = [](const timespec& t) {
    return static_cast<uint64_t>(t.tv_sec) * 1'000'000 + static_cast<uint64_t>(t.tv_nsec) / 1000;
  };
  return usec(real) - usec(mono);
}

}  // namespace

KmsgStreamer::KmsgStreamer(HostPort target) : target_(std::move(target)) {
  thread_ = std::thread([this] { Run(); });
}

KmsgStreamer::~KmsgStreamer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void KmsgStreamer::FlushAndStop(std::chrono::milliseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  // Give the thread a moment to see the newest records before judging "idle".
  idle_ = false;
  while (!idle_ && std::chrono::steady_clock::now() < deadline) {
    struct timespec ts{0, 50'000'000};
    nanosleep(&ts, nullptr);
  }
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void KmsgStreamer::Run() {
  Fd kmsg(open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (kmsg.get() < 0) {
    std::perror("standin: open /dev/kmsg");
    return;
  }
  const uint64_t boot_usec = BootTimeUnixUsec();
  Fd conn;
  std::string pending;  // a record read but not yet delivered
  char buf[8192];
  while (!stop_) {
    if (conn.get() < 0) {
      conn = Connect(target_);
      if (conn.get() < 0) {
        struct timespec ts{0, 500'000'000};
        nanosleep(&ts, nullptr);
        continue;
      }
    }
    if (pending.empty()) {
      const ssize_t n = read(kmsg.get(), buf, sizeof buf);
      if (n < 0 && errno == EPIPE) continue;  // overwritten records: skip ahead
      if (n <= 0) {
        idle_ = true;
        pollfd p{kmsg.get(), POLLIN, 0};
        poll(&p, 1, 100);
        continue;
      }
      auto record = ParseKmsgRecord(std::string_view(buf, static_cast<size_t>(n)));
      if (!record) continue;
      pending = TalosKmsgJsonLine(*record, boot_usec);
    }
    if (SendAll(conn.get(), pending)) {
      pending.clear();
      ++lines_sent_;
    } else {
      conn.reset();  // receiver went away: reconnect, resend this record
    }
  }
}

}  // namespace metalpxe::standin
