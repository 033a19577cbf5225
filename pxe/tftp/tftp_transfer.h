#pragma once
// One read transfer: its own connected UDP socket (the server's TID, RFC 1350),
// the file, the negotiated options, and the send/ACK/retransmit state machine.
//
// Sending: a window of `window_size` blocks goes out back to back (RFC 7440;
// window 1 is plain RFC 1350 lock-step). File data is read with one preadv
// straight into the packet buffer, and the batch leaves in one UDP GSO send
// (UDP_SEGMENT) or, where the path cannot do GSO, one sendmmsg.
// ACKs: an ACK of block n inside the outstanding window moves the window to
// n+1; when n is short of the last block sent (a partial-window ACK: the
// client saw a gap) sending resumes from n+1. An ACK of a block already
// acknowledged is ignored, never answered: answering duplicates is the
// Sorcerer's Apprentice bug (RFC 1123 4.2.3.1). Only the timer resends, with
// exponential backoff and a bounded number of retries.
// File reads (preadv) run on the event loop: TFTP serves boot loaders of a
// few hundred KiB that sit in the page cache, where a read costs less than
// handing it to a thread; large images belong on HTTP.
// Block numbers are 16-bit on the wire and wrap from 65535 to 0 (what
// tftpd-hpa, atftp, curl, iPXE and EDK2 expect), so files above 32 MiB at
// blksize 512 transfer; internally blocks are counted in 64 bits.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "pxe/tftp/tftp_counters.h"
#include "pxe/tftp/tftp_negotiation.h"
#include "pxe/tftp/tftp_options.h"
#include "pxe/tftp/tftp_root.h"

namespace metalpxe::tftp {

class TftpTransfer : public std::enable_shared_from_this<TftpTransfer> {
 public:
  using udp = boost::asio::ip::udp;
  // Called once when the transfer ends by itself (not after Cancel()).
  struct Outcome {
    bool ok = false;
    std::string error;
    unsigned retransmits = 0;
    std::chrono::milliseconds duration{0};
  };
  using DoneCallback = std::function<void(const udp::endpoint& peer, const Outcome& outcome)>;

  // socket: open, bound to the local address the request came to, connected to the peer.
  TftpTransfer(udp::socket socket, OpenedFile file, NegotiatedOptions negotiated, const TftpOptions& options,
               TftpCounters& counters, DoneCallback done);

  void Start();
  // Stops without a callback (server shutdown, request superseded); counts
  // as failed; the client gets ERROR 0 with `reason`
  // unless it is empty.
  void Cancel(std::string_view reason);
  const udp::endpoint& peer() const { return peer_; }
  // True until the client has acknowledged anything: a repeated identical
  // request is then a retransmission of the one that started this transfer.
  bool AwaitingFirstAck() const { return !any_ack_; }

 private:
  void StartWindow();
  void SendWindow();
  // Sends up to one batch starting at next_; returns blocks sent (0: would block).
  Result<std::uint64_t> SendBatch();
  std::uint64_t SendGso(std::size_t count, std::size_t stride, std::size_t total);
  std::uint64_t SendMmsg(std::size_t count, std::size_t stride, std::size_t total, int& err);
  void SendOack();
  void ArmTimer();
  void OnTimeout();
  void Receive();
  void OnPacket(std::size_t size);
  void OnAck(std::uint16_t wire_block);
  void Finish(bool ok, TftpError code = TftpError::kNotDefined, std::string_view message = {});

  udp::socket socket_;
  boost::asio::steady_timer timer_;
  udp::endpoint peer_;
  OpenedFile file_;
  NegotiatedOptions negotiated_;
  TftpCounters& counters_;
  DoneCallback done_;

  std::uint64_t total_blocks_ = 0;  // last block is the short (maybe empty) one
  std::uint64_t base_ = 1;          // first block not yet acknowledged
  std::uint64_t next_ = 1;          // next block to put on the wire
  std::uint64_t window_end_ = 1;    // one past the last block of the current window
  bool oack_pending_ = false;
  bool any_ack_ = false;
  bool waiting_writable_ = false;
  bool finished_ = false;
  bool use_gso_ = true;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();  // reset by Start()
  std::chrono::milliseconds initial_timeout_;
  std::chrono::milliseconds max_timeout_;
  std::chrono::milliseconds timeout_;
  unsigned retries_ = 0;
  unsigned retransmits_ = 0;  // all timeouts of the transfer, for its report
  unsigned max_retries_;
  std::uint64_t timer_generation_ = 0;
  std::vector<std::byte> oack_;
  std::vector<std::byte> batch_;      // packets laid out back to back, header + data
  std::array<std::byte, 1024> rx_{};  // ACKs are 4 bytes, ERRORs short
};

}  // namespace metalpxe::tftp
