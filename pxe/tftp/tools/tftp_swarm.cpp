// tftp-swarm: N concurrent TFTP downloads (RFC 1350 + blksize/windowsize/
// tsize options) from one single-threaded epoll process, for bench/tftp.
// Fifty atftp processes on one CPU saturate that CPU before any server does;
// this client costs one process whatever N is, so the servers' own rates
// show. The transfers (swarm_tftp_transfer.h) are written apart from
// metalpxe's TFTP code (no shared codec) and used against every server alike.
//
//   tftp-swarm HOST PORT FILE COUNT BLKSIZE WINDOW EXPECTED_BYTES
// Prints "<seconds>" of the whole swarm; exits 1 if any transfer failed or
// delivered a different byte count. Bounded: 60 s at most.
#include <sys/epoll.h>

#include <cstdio>
#include <memory>

#include "pxe/tftp/tools/swarm_tftp_transfer.h"

using metalpxe::tftp::swarm::RetryPolicy;
using metalpxe::tftp::swarm::SwarmTftpTransfer;
using Clock = SwarmTftpTransfer::Clock;

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
  std::vector<std::unique_ptr<SwarmTftpTransfer>> transfers;
  const auto start = Clock::now();
  // A lost packet: ask again after a quiet second, as often as the deadline allows.
  const RetryPolicy policy{std::chrono::seconds(1), std::chrono::seconds(1), 1000000};
  for (int i = 0; i < count; ++i) {
    transfers.push_back(std::make_unique<SwarmTftpTransfer>(listen, file, blksize, window, policy));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, transfers.back()->fd(), &ev);
    transfers.back()->Start();
  }

  const auto deadline = start + std::chrono::seconds(60);
  auto remaining = [&] {
    int n = 0;
    for (const auto& t : transfers) n += t->done() ? 0 : 1;
    return n;
  };
  while (remaining() > 0 && Clock::now() < deadline) {
    epoll_event events[64];
    const int n = epoll_wait(ep, events, 64, 100);
    for (int e = 0; e < n; ++e) transfers[events[e].data.u32]->OnReadable();
    const auto now = Clock::now();
    for (auto& t : transfers) t->OnTick(now);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  int bad = 0;
  for (const auto& t : transfers)
    if (!t->done() || t->failed() || t->bytes() != expected) ++bad;
  close(ep);
  if (bad) {
    std::fprintf(stderr, "tftp-swarm: %d of %d transfers failed or were incomplete\n", bad, count);
    return 1;
  }
  std::printf("%.6f\n", seconds);
  return 0;
}
