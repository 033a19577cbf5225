// tftp-swarm: N concurrent TFTP downloads (RFC 1350 + blksize/windowsize/
// tsize options) from one single-threaded epoll process, for bench/tftp.
// Fifty atftp processes on one CPU saturate that CPU before any server does;
// this client costs one process whatever N is, so the servers' own rates
// show. It is written apart from metalpxe's TFTP code (no shared codec) and
// is used against every server alike.
//
//   tftp-swarm HOST PORT FILE COUNT BLKSIZE WINDOW EXPECTED_BYTES
// Prints "<seconds>" of the whole swarm; exits 1 if any transfer failed or
// delivered a different byte count. Bounded: 60 s at most.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <strings.h>
#include <algorithm>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Transfer {
  int fd = -1;
  sockaddr_in server{};   // the server's transfer port, once it answered
  bool answered = false;
  std::uint16_t next = 1;  // next DATA block expected
  int window = 1;      // lock-step until the OACK grants a window (RFC 7440)
  int blksize = 512;   // RFC 1350's, unless the OACK grants another (RFC 2348)
  int in_window = 0;
  std::uint64_t bytes = 0;
  bool done = false;
  bool failed = false;
  Clock::time_point last = Clock::now();
};

void SendAck(Transfer& t, std::uint16_t block) {
  const unsigned char ack[4] = {0, 4, static_cast<unsigned char>(block >> 8), static_cast<unsigned char>(block)};
  sendto(t.fd, ack, sizeof ack, 0, reinterpret_cast<const sockaddr*>(&t.server), sizeof t.server);
}

std::string Rrq(const std::string& file, int blksize, int window) {
  std::string p("\0\1", 2);
  auto put = [&p](const std::string& s) { p += s; p += '\0'; };
  put(file);
  put("octet");
  put("blksize"), put(std::to_string(blksize));
  put("windowsize"), put(std::to_string(window));
  put("tsize"), put("0");
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: %s HOST PORT FILE COUNT BLKSIZE WINDOW EXPECTED_BYTES\n", argv[0]);
    return 2;
  }
  sockaddr_in listen{};
  listen.sin_family = AF_INET;
  listen.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &listen.sin_addr) != 1) return 2;
  const std::string file = argv[3];
  const int count = std::atoi(argv[4]), blksize = std::atoi(argv[5]), window = std::atoi(argv[6]);
  const std::uint64_t expected = std::strtoull(argv[7], nullptr, 10);
  if (count < 1 || count > 1000 || blksize < 8 || blksize > 65464 || window < 1) return 2;

  const int ep = epoll_create1(0);
  std::vector<Transfer> transfers(static_cast<std::size_t>(count));
  const std::string rrq = Rrq(file, blksize, window);
  const auto start = Clock::now();
  for (int i = 0; i < count; ++i) {
    Transfer& t = transfers[static_cast<std::size_t>(i)];
    t.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    const int buf = 4 << 20;
    setsockopt(t.fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, t.fd, &ev);
    sendto(t.fd, rrq.data(), rrq.size(), 0, reinterpret_cast<const sockaddr*>(&listen), sizeof listen);
  }

  std::vector<unsigned char> pkt(static_cast<std::size_t>(blksize) + 4);
  int remaining = count;
  const auto deadline = start + std::chrono::seconds(60);
  while (remaining > 0 && Clock::now() < deadline) {
    epoll_event events[64];
    const int n = epoll_wait(ep, events, 64, 100);
    for (int e = 0; e < n; ++e) {
      Transfer& t = transfers[events[e].data.u32];
      for (;;) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        const ssize_t got = recvfrom(t.fd, pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (got < 0) break;
        if (t.done || got < 4) continue;
        if (!t.answered) t.server = from, t.answered = true;
        t.last = Clock::now();
        const int op = pkt[1];
        const std::uint16_t block = static_cast<std::uint16_t>(pkt[2] << 8 | pkt[3]);
        if (op == 6) {  // OACK: the window the server granted, then start the data
          const std::string opts(reinterpret_cast<const char*>(pkt.data()) + 2, static_cast<std::size_t>(got) - 2);
          for (std::size_t at = 0; at < opts.size();) {
            const std::string key = opts.c_str() + at;
            at += key.size() + 1;
            if (at >= opts.size()) break;
            const std::string value = opts.c_str() + at;
            at += value.size() + 1;
            if (strcasecmp(key.c_str(), "windowsize") == 0) t.window = std::max(1, std::atoi(value.c_str()));
            if (strcasecmp(key.c_str(), "blksize") == 0) t.blksize = std::max(8, std::atoi(value.c_str()));
          }
          SendAck(t, 0);
        } else if (op == 5) {
          t.failed = t.done = true, --remaining;
        } else if (op == 3 && block == t.next) {
          const auto payload = static_cast<std::size_t>(got) - 4;
          t.bytes += payload;
          ++t.next;
          const bool last = payload < static_cast<std::size_t>(t.blksize);
          if (last || ++t.in_window >= t.window) SendAck(t, block), t.in_window = 0;
          if (last) t.done = true, --remaining;
        } else if (op == 3) {  // out of order: ask again from the last good block
          SendAck(t, static_cast<std::uint16_t>(t.next - 1));
          t.in_window = 0;
        }
      }
    }
    // A lost packet: re-acknowledge after a quiet second (bounded by the deadline).
    const auto now = Clock::now();
    for (Transfer& t : transfers) {
      if (t.done || now - t.last < std::chrono::seconds(1)) continue;
      t.last = now;
      if (t.answered) SendAck(t, static_cast<std::uint16_t>(t.next - 1));
      else sendto(t.fd, rrq.data(), rrq.size(), 0, reinterpret_cast<const sockaddr*>(&listen), sizeof listen);
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  int bad = 0;
  for (const Transfer& t : transfers) {
    if (!t.done || t.failed || t.bytes != expected) ++bad;
    close(t.fd);
  }
  close(ep);
  if (bad) {
    std::fprintf(stderr, "tftp-swarm: %d of %d transfers failed or were incomplete\n", bad, count);
    return 1;
  }
  std::printf("%.6f\n", seconds);
  return 0;
}
