#pragma once
// One TFTP download (RFC 1350 + blksize/windowsize/tsize options) driven by
// a caller's event loop, for the one-process client swarms: tftp-swarm
// (bench/tftp) and bootstorm (bench/bootstorm). Written apart from
// metalpxe's TFTP code (no shared codec) because it is used against every
// server alike, metalpxe's and its peers'.
//
// The caller owns the loop: it registers fd() for reading, calls
// OnReadable() when it is readable and OnTick() now and then (every 100 ms
// or so). Lost packets are recovered as boot firmware does: after a quiet
// `timeout` the RRQ or the last ACK is sent again, the timeout doubling up to
// `max_timeout`, at most `max_retries` times in a row; then the transfer
// fails. A TFTP ERROR from the server fails it at once (PXE firmware gives
// up the boot on one).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <strings.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace metalpxe::tftp::swarm {

struct RetryPolicy {
  std::chrono::milliseconds timeout{1000};
  std::chrono::milliseconds max_timeout{1000};
  unsigned max_retries = 1000000;  // tftp-swarm: until its own deadline
};

class SwarmTftpTransfer {
 public:
  using Clock = std::chrono::steady_clock;

  // `bind_address` (network order; 0 = any) is the client's source address.
  SwarmTftpTransfer(const sockaddr_in& server, std::string file, int blksize, int window, RetryPolicy policy,
                    in_addr_t bind_address = 0)
      : listen_(server), rrq_(Rrq(file, blksize, window)), policy_(policy), timeout_(policy.timeout) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int buf = 4 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = bind_address;
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) Fail("bind failed");
  }
  ~SwarmTftpTransfer() {
    if (fd_ >= 0) ::close(fd_);
  }
  SwarmTftpTransfer(const SwarmTftpTransfer&) = delete;
  SwarmTftpTransfer& operator=(const SwarmTftpTransfer&) = delete;

  int fd() const { return fd_; }
  bool done() const { return done_; }
  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }
  std::uint64_t bytes() const { return bytes_; }
  unsigned retransmits() const { return retransmits_; }

  void Start() {
    last_ = Clock::now();
    SendRrq();
  }

  // Reads every datagram waiting on fd().
  void OnReadable() {
    for (;;) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      const ssize_t got = ::recvfrom(fd_, pkt_.data(), pkt_.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (got < 0) return;
      if (done_ || got < 4) continue;
      if (!answered_) server_ = from, answered_ = true;
      last_ = Clock::now();
      tries_ = 0, timeout_ = policy_.timeout;
      const int op = pkt_[1];
      const auto block = static_cast<std::uint16_t>(pkt_[2] << 8 | pkt_[3]);
      if (op == 6) {  // OACK: the window and block size granted, then the data
        const std::string opts(reinterpret_cast<const char*>(pkt_.data()) + 2, static_cast<std::size_t>(got) - 2);
        for (std::size_t at = 0; at < opts.size();) {
          const std::string key = opts.c_str() + at;
          at += key.size() + 1;
          if (at >= opts.size()) break;
          const std::string value = opts.c_str() + at;
          at += value.size() + 1;
          if (strcasecmp(key.c_str(), "windowsize") == 0) window_ = std::max(1, std::atoi(value.c_str()));
          if (strcasecmp(key.c_str(), "blksize") == 0) blksize_ = std::max(8, std::atoi(value.c_str()));
        }
        SendAck(0);
      } else if (op == 5) {
        std::string msg(reinterpret_cast<const char*>(pkt_.data()) + 4, static_cast<std::size_t>(got) - 4);
        msg = msg.c_str();
        Fail("TFTP ERROR " + std::to_string(block) + " " + msg);
      } else if (op == 3 && block == next_) {
        const auto payload = static_cast<std::size_t>(got) - 4;
        bytes_ += payload;
        ++next_;
        const bool last = payload < static_cast<std::size_t>(blksize_);
        if (last || ++in_window_ >= window_) SendAck(block), in_window_ = 0;
        if (last) done_ = true;
      } else if (op == 3) {  // out of order: ask again from the last good block
        SendAck(static_cast<std::uint16_t>(next_ - 1));
        in_window_ = 0;
      }
    }
  }

  // A quiet `timeout`: send the RRQ or the last ACK again, with backoff.
  void OnTick(Clock::time_point now) {
    if (done_ || now - last_ < timeout_) return;
    if (++tries_ > policy_.max_retries) {
      Fail(answered_ ? "TFTP timeout during the transfer" : "TFTP timeout: no answer to the request");
      return;
    }
    last_ = now;
    timeout_ = std::min(timeout_ * 2, std::chrono::duration_cast<std::chrono::milliseconds>(policy_.max_timeout));
    ++retransmits_;
    if (answered_) SendAck(static_cast<std::uint16_t>(next_ - 1));
    else SendRrq();
  }

 private:
  static std::string Rrq(const std::string& file, int blksize, int window) {
    std::string p("\0\1", 2);
    auto put = [&p](const std::string& s) { p += s, p += '\0'; };
    put(file);
    put("octet");
    put("blksize"), put(std::to_string(blksize));
    put("windowsize"), put(std::to_string(window));
    put("tsize"), put("0");
    return p;
  }
  void SendRrq() {
    ::sendto(fd_, rrq_.data(), rrq_.size(), 0, reinterpret_cast<const sockaddr*>(&listen_), sizeof listen_);
  }
  void SendAck(std::uint16_t block) {
    const unsigned char ack[4] = {0, 4, static_cast<unsigned char>(block >> 8), static_cast<unsigned char>(block)};
    ::sendto(fd_, ack, sizeof ack, 0, reinterpret_cast<const sockaddr*>(&server_), sizeof server_);
  }
  void Fail(std::string why) {
    if (done_) return;
    failed_ = done_ = true;
    error_ = std::move(why);
  }

  int fd_ = -1;
  sockaddr_in listen_{};  // the server's port 69
  sockaddr_in server_{};  // the server's transfer port, once it answered
  std::string rrq_;
  RetryPolicy policy_;
  std::chrono::milliseconds timeout_;
  unsigned tries_ = 0;
  unsigned retransmits_ = 0;
  bool answered_ = false;
  std::uint16_t next_ = 1;  // next DATA block expected
  int window_ = 1;          // lock-step until the OACK grants a window (RFC 7440)
  int blksize_ = 512;       // RFC 1350's, unless the OACK grants another (RFC 2348)
  int in_window_ = 0;
  std::uint64_t bytes_ = 0;
  bool done_ = false, failed_ = false;
  std::string error_;
  Clock::time_point last_ = Clock::now();
  std::vector<unsigned char> pkt_ = std::vector<unsigned char>(65536);
};

}  // namespace metalpxe::tftp::swarm
