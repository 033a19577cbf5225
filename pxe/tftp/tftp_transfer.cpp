#include "pxe/tftp/tftp_transfer.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <boost/asio/buffer.hpp>
#include <spdlog/spdlog.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103  // linux/udp.h; older libc headers lack it
#endif

namespace metalpxe::tftp {
namespace {

// One GSO send may carry at most 64 segments (UDP_MAX_SEGMENTS on older
// kernels) and one IP datagram's worth of payload.
constexpr std::size_t kMaxBatchPackets = 64;
constexpr std::size_t kMaxBatchBytes = 65507;

std::size_t BatchCapacity(std::size_t stride) {
  return std::clamp<std::size_t>(kMaxBatchBytes / stride, 1, kMaxBatchPackets);
}

}  // namespace

TftpTransfer::TftpTransfer(udp::socket socket, OpenedFile file, NegotiatedOptions negotiated,
                           const TftpOptions& options, TftpCounters& counters, DoneCallback done)
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      file_(std::move(file)),
      negotiated_(std::move(negotiated)),
      counters_(counters),
      done_(std::move(done)),
      initial_timeout_(negotiated_.timeout ? std::chrono::milliseconds(*negotiated_.timeout)
                                           : options.retransmit_timeout),
      max_timeout_(std::max(initial_timeout_, options.max_retransmit_timeout)),
      timeout_(initial_timeout_),
      max_retries_(options.max_retries) {
  use_gso_ = options.use_gso;
  boost::system::error_code ec;
  peer_ = socket_.remote_endpoint(ec);
  socket_.non_blocking(true, ec);
  total_blocks_ = file_.size / negotiated_.block_size + 1;
  const std::size_t stride = kHeaderSize + negotiated_.block_size;
  batch_.resize(BatchCapacity(stride) * stride);
}

void TftpTransfer::Start() {
  started_ = std::chrono::steady_clock::now();
  counters_.transfers_started.fetch_add(1, std::memory_order_relaxed);
  counters_.active_transfers.fetch_add(1, std::memory_order_relaxed);
  Receive();
  if (!negotiated_.oack.empty()) {
    oack_pending_ = true;
    oack_ = EncodeOack(negotiated_.oack);
    SendOack();
    ArmTimer();
  } else {
    StartWindow();
  }
}

void TftpTransfer::Cancel(std::string_view reason) {
  done_ = nullptr;
  Finish(false, TftpError::kNotDefined, reason);
}

void TftpTransfer::StartWindow() {
  window_end_ = base_ + negotiated_.window_size;
  ArmTimer();
  SendWindow();
}

void TftpTransfer::SendWindow() {
  if (waiting_writable_ || finished_) return;
  while (next_ < window_end_ && next_ <= total_blocks_) {
    auto sent = SendBatch();
    if (!sent.ok()) {
      Finish(false, TftpError::kNotDefined, sent.status().message());
      return;
    }
    if (*sent == 0) {
      // Socket buffer full: resume when the kernel has room. State is read
      // afresh then, so ACKs arriving meanwhile are honoured.
      waiting_writable_ = true;
      socket_.async_wait(udp::socket::wait_write, [self = shared_from_this()](boost::system::error_code ec) {
        self->waiting_writable_ = false;
        if (ec || self->finished_) return;
        self->SendWindow();
      });
      return;
    }
    next_ += *sent;
  }
}

Result<std::uint64_t> TftpTransfer::SendBatch() {
  const std::size_t bs = negotiated_.block_size;
  const std::size_t stride = kHeaderSize + bs;
  const std::uint64_t limit = std::min(window_end_, total_blocks_ + 1);
  const std::size_t count = static_cast<std::size_t>(std::min<std::uint64_t>(limit - next_, batch_.size() / stride));
  const std::uint64_t offset = (next_ - 1) * bs;
  const std::uint64_t remaining = file_.size - std::min(file_.size, offset);
  const std::size_t data_bytes = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, count * bs));

  // One preadv fills every packet's data slot, leaving room for headers.
  std::array<iovec, kMaxBatchPackets> iov{};
  std::size_t left = data_bytes;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t len = std::min(left, bs);
    iov[i] = {batch_.data() + i * stride + kHeaderSize, len};
    left -= len;
  }
  std::size_t done = 0;
  while (done < data_bytes) {
    // Rare short reads: finish block by block from where preadv stopped.
    ssize_t n;
    if (done == 0) {
      n = ::preadv(file_.fd.get(), iov.data(), static_cast<int>(count), static_cast<off_t>(offset));
    } else {
      const std::size_t i = done / bs, in = done % bs;
      n = ::pread(file_.fd.get(), static_cast<std::byte*>(iov[i].iov_base) + in, iov[i].iov_len - in,
                  static_cast<off_t>(offset + done));
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status(ErrorCode::kInternal, std::string("read error: ") + std::strerror(errno));
    if (n == 0) return Status(ErrorCode::kDataLoss, "file shrank during transfer");
    done += static_cast<std::size_t>(n);
  }
  for (std::size_t i = 0; i < count; ++i)
    WriteDataHeader(static_cast<std::uint16_t>(next_ + i),
                    std::span<std::byte, kHeaderSize>(batch_.data() + i * stride, kHeaderSize));

  const std::size_t total = (count - 1) * stride + kHeaderSize + iov[count - 1].iov_len;
  std::uint64_t sent = 0;
  if (use_gso_ && count > 1) {
    sent = SendGso(count, stride, total);
    if (sent > 0 || use_gso_) {
      if (sent > 0) counters_.bytes_sent.fetch_add(data_bytes, std::memory_order_relaxed);
      return sent;
    }
  }
  int err = 0;
  sent = SendMmsg(count, stride, total, err);
  if (err != 0) return Status(ErrorCode::kUnavailable, std::string("send: ") + std::strerror(err));
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < sent; ++i) bytes += iov[i].iov_len;
  counters_.bytes_sent.fetch_add(bytes, std::memory_order_relaxed);
  return sent;
}

// UDP GSO: the whole batch in one skb, cut into `stride`-sized datagrams by
// the kernel (or the NIC). Returns 0 on EAGAIN; clears use_gso_ (and returns
// 0) when the path cannot do it, e.g. no checksum offload or a block larger
// than the path MTU.
std::uint64_t TftpTransfer::SendGso(std::size_t count, std::size_t stride, std::size_t total) {
  iovec iov{batch_.data(), total};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(std::uint16_t))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_UDP;
  cm->cmsg_type = UDP_SEGMENT;
  cm->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
  const auto segment = static_cast<std::uint16_t>(stride);
  std::memcpy(CMSG_DATA(cm), &segment, sizeof segment);
  while (true) {
    const ssize_t n = ::sendmsg(socket_.native_handle(), &msg, MSG_DONTWAIT);
    if (n >= 0) return count;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      spdlog::debug("tftp: UDP GSO unavailable towards {} ({}), using sendmmsg", peer_.address().to_string(),
                    std::strerror(errno));
      use_gso_ = false;
    }
    return 0;
  }
}

std::uint64_t TftpTransfer::SendMmsg(std::size_t count, std::size_t stride, std::size_t total, int& err) {
  std::array<iovec, kMaxBatchPackets> iov{};
  std::array<mmsghdr, kMaxBatchPackets> msgs{};
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t start = i * stride;
    iov[i] = {batch_.data() + start, std::min(stride, total - start)};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  while (true) {
    const int n = ::sendmmsg(socket_.native_handle(), msgs.data(), static_cast<unsigned>(count), MSG_DONTWAIT);
    if (n >= 0) return static_cast<std::uint64_t>(n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
    return 0;
  }
}

void TftpTransfer::SendOack() {
  // A full socket buffer only delays the OACK: the timer sends it again.
  ::send(socket_.native_handle(), oack_.data(), oack_.size(), MSG_DONTWAIT);
}

void TftpTransfer::ArmTimer() {
  const std::uint64_t generation = ++timer_generation_;
  timer_.expires_after(timeout_);
  timer_.async_wait([self = shared_from_this(), generation](boost::system::error_code ec) {
    if (ec || self->finished_ || generation != self->timer_generation_) return;
    self->OnTimeout();
  });
}

void TftpTransfer::OnTimeout() {
  if (retries_ >= max_retries_) {
    Finish(false, TftpError::kNotDefined, "timed out waiting for ACK");
    return;
  }
  ++retries_;
  ++retransmits_;
  counters_.retransmits.fetch_add(1, std::memory_order_relaxed);
  timeout_ = std::min(timeout_ * 2, max_timeout_);
  if (oack_pending_) {
    SendOack();
    ArmTimer();
    return;
  }
  next_ = base_;
  StartWindow();
}

void TftpTransfer::Receive() {
  socket_.async_receive(boost::asio::buffer(rx_),
                        [self = shared_from_this()](boost::system::error_code ec, std::size_t size) {
                          if (self->finished_ || ec == boost::asio::error::operation_aborted) return;
                          if (ec == boost::asio::error::connection_refused) {
                            // ICMP port unreachable: the client is gone.
                            self->Finish(false);
                            return;
                          }
                          if (!ec) self->OnPacket(size);
                          if (!self->finished_) self->Receive();
                        });
}

void TftpTransfer::OnPacket(std::size_t size) {
  auto packet = ParsePacket(std::span<const std::byte>(rx_.data(), size));
  if (!packet.ok()) return;
  if (const auto* ack = std::get_if<AckPacket>(&*packet)) {
    OnAck(ack->block);
  } else if (const auto* err = std::get_if<ErrorPacket>(&*packet)) {
    // The client gave up (or refused our OACK): no answer to an ERROR.
    spdlog::debug("tftp: client {} aborted with ERROR {}: {}", peer_.address().to_string(), err->code, err->message);
    Finish(false);
  }
}

void TftpTransfer::OnAck(std::uint16_t wire_block) {
  if (oack_pending_) {
    if (wire_block != 0) return;
    any_ack_ = true;
    oack_pending_ = false;
    retries_ = 0;
    timeout_ = initial_timeout_;
    StartWindow();
    return;
  }
  // Map the 16-bit number onto the blocks in flight: [base_-1, next_-1].
  const std::uint64_t last_acked = base_ - 1;
  const auto delta = static_cast<std::uint16_t>(wire_block - static_cast<std::uint16_t>(last_acked));
  if (delta == 0) return;  // duplicate ACK: never answered (Sorcerer's Apprentice)
  const std::uint64_t acked = last_acked + delta;
  if (acked >= next_) return;  // not sent yet: stale or bogus
  any_ack_ = true;
  base_ = acked + 1;
  retries_ = 0;
  timeout_ = initial_timeout_;
  if (base_ > total_blocks_) {
    Finish(true);
    return;
  }
  // Full-window ACK: next_ == base_ already. Partial-window ACK: the client
  // saw a gap after `acked`, so go back and send from there.
  next_ = base_;
  StartWindow();
}

void TftpTransfer::Finish(bool ok, TftpError code, std::string_view message) {
  if (finished_) return;
  finished_ = true;
  if (!message.empty()) {
    const auto packet = EncodeError(code, message);
    ::send(socket_.native_handle(), packet.data(), packet.size(), MSG_DONTWAIT);
  }
  boost::system::error_code ec;
  timer_.cancel();
  socket_.close(ec);
  file_.fd.Reset();
  counters_.active_transfers.fetch_sub(1, std::memory_order_relaxed);
  // The duration first: whoever sees the transfer counted sees its duration.
  if (ok) {
    const auto took = std::chrono::steady_clock::now() - started_;
    counters_.durations.Observe(std::chrono::duration<double>(took).count());
  }
  (ok ? counters_.transfers_completed : counters_.transfers_failed).fetch_add(1, std::memory_order_relaxed);
  if (ok) {
    spdlog::debug("tftp: sent {} bytes to {}:{}", file_.size, peer_.address().to_string(), peer_.port());
  } else if (!message.empty()) {
    spdlog::info("tftp: transfer to {}:{} failed: {}", peer_.address().to_string(), peer_.port(), message);
  }
  Outcome outcome;
  outcome.ok = ok;
  outcome.error = ok ? "" : (message.empty() ? std::string("aborted by the client") : std::string(message));
  outcome.retransmits = retransmits_;
  outcome.duration =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
  if (auto done = std::move(done_)) done(peer_, outcome);
}

}  // namespace metalpxe::tftp
