#pragma once
// The TFTP server: read-only, one UDP listener (port 69 by default), one
// ephemeral connected socket per transfer (the server TID), options per
// RFC 2347/2348/2349/7440, files confined to the root (tftp_root.h).
//
// Threading: Start() and Stop() run on the io_context's thread (or while it
// is not running); Stats() may be called from any thread.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "core/result.h"
#include "pxe/tftp/tftp_counters.h"
#include "pxe/tftp/tftp_options.h"
#include "pxe/tftp/tftp_root.h"

namespace metalpxe::tftp {

class TftpTransfer;

class TftpServer {
 public:
  using udp = boost::asio::ip::udp;

  TftpServer(boost::asio::io_context& io, TftpOptions options);
  ~TftpServer();
  TftpServer(const TftpServer&) = delete;
  TftpServer& operator=(const TftpServer&) = delete;

  // Opens the root and binds the listener. Fails (no partial start) on a
  // missing root, a busy port or an unknown interface.
  Status Start();
  // Closes the listener and ends every transfer (clients get ERROR 0).
  void Stop();
  TftpStats Stats() const;
  // The bound port (useful with options.port == 0).
  std::uint16_t port() const { return bound_port_; }

 private:
  struct Request {
    udp::endpoint peer;
    boost::asio::ip::address local;  // where the request was sent: the transfer answers from there
    std::vector<std::byte> bytes;
  };

  void WaitForRequests();
  void DrainRequests();
  void HandleRequest(Request request);
  void Wait(Request request);   // no free slot: queue it (or drop it when the queue is full)
  void StartWaiting();          // a slot freed: start the oldest waiting requests
  Result<udp::socket> OpenTransferSocket(const Request& request);
  void Refuse(const Request& request, TftpError code, std::string_view message, std::string_view file = {});

  boost::asio::io_context& io_;
  TftpOptions options_;
  std::optional<TftpRoot> root_;
  udp::socket listener_;
  std::uint16_t bound_port_ = 0;
  TftpCounters counters_;
  struct Active {
    std::shared_ptr<TftpTransfer> transfer;
    std::vector<std::byte> request;  // to recognise a retransmitted RRQ
  };
  std::map<udp::endpoint, Active> transfers_;
  struct Waiting {
    Request request;
    std::chrono::steady_clock::time_point since;  // last (re)transmission of the request
  };
  std::deque<Waiting> waiting_;  // arrival order, at most options_.max_waiting
  std::vector<std::byte> rx_;
  // Shared with pending handlers so none touches a destroyed server.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace metalpxe::tftp
