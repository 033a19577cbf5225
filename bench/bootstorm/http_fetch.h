#pragma once
// One machine's HTTP connection, non-blocking, driven by the caller's epoll
// loop: GET a path (optionally a byte range), keep the body or only count
// it, reuse the connection while the server keeps it open, reconnect when it
// does not (as iPXE's connection pool does).
#include <netinet/in.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "bench/bootstorm/http_response_head.h"

namespace metalpxe::bench {

class HttpFetch {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { kIdle, kBusy, kDone, kFailed };

  // `source` (network order) is the machine's own address.
  HttpFetch(int epoll_fd, std::uint64_t epoll_tag, in_addr_t source);
  ~HttpFetch();
  HttpFetch(const HttpFetch&) = delete;
  HttpFetch& operator=(const HttpFetch&) = delete;

  // Starts a GET; `range_end` inclusive. The previous request must be over.
  void Get(const sockaddr_in& server, const std::string& host, const std::string& path, bool keep_body,
           std::optional<std::pair<std::uint64_t, std::uint64_t>> range = std::nullopt);
  void OnEvents(std::uint32_t events);
  void OnTick(Clock::time_point now, std::chrono::milliseconds timeout);

  State state() const { return state_; }
  const std::string& error() const { return error_; }
  const HttpResponseHead& head() const { return head_; }
  const std::string& body() const { return body_; }
  std::uint64_t body_bytes() const { return body_bytes_; }

 private:
  void Connect();
  void CloseSocket();
  void Fail(std::string why);
  void Flush();
  void Read();
  void Consume(const char* data, std::size_t n);
  void Finish();
  void Watch(std::uint32_t events);

  int epoll_fd_;
  std::uint64_t tag_;
  in_addr_t source_;
  int fd_ = -1;
  bool connected_ = false;
  sockaddr_in server_{};
  std::string out_;
  std::size_t sent_ = 0;
  std::string head_text_;
  bool have_head_ = false;
  HttpResponseHead head_;
  bool keep_body_ = false;
  std::string body_;
  std::uint64_t body_bytes_ = 0;
  State state_ = State::kIdle;
  std::string error_;
  Clock::time_point started_;
  bool reused_ = false;  // the request went out on a kept-alive connection
};

}  // namespace metalpxe::bench
