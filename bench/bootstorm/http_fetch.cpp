#include "bench/bootstorm/http_fetch.h"

#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

namespace metalpxe::bench {
namespace {

char g_buffer[256 * 1024];  // one event loop: one read buffer for every connection

}  // namespace

HttpFetch::HttpFetch(int epoll_fd, std::uint64_t epoll_tag, in_addr_t source)
    : epoll_fd_(epoll_fd), tag_(epoll_tag), source_(source) {}

HttpFetch::~HttpFetch() { CloseSocket(); }

void HttpFetch::CloseSocket() {
  if (fd_ >= 0) ::close(fd_);  // close() also leaves the epoll set
  fd_ = -1;
  connected_ = false;
}

void HttpFetch::Fail(std::string why) {
  CloseSocket();
  state_ = State::kFailed;
  error_ = std::move(why);
}

void HttpFetch::Watch(std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd_, &ev);
}

void HttpFetch::Get(const sockaddr_in& server, const std::string& host, const std::string& path, bool keep_body,
                    std::optional<std::pair<std::uint64_t, std::uint64_t>> range) {
  const bool same_server = fd_ >= 0 && server.sin_addr.s_addr == server_.sin_addr.s_addr &&
                           server.sin_port == server_.sin_port;
  if (!same_server) CloseSocket();
  server_ = server;
  out_ = "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: iPXE/1.21.1 (bootstorm)\r\n";
  if (range) out_ += "Range: bytes=" + std::to_string(range->first) + "-" + std::to_string(range->second) + "\r\n";
  out_ += "\r\n";
  sent_ = 0;
  head_text_.clear();
  have_head_ = false;
  head_ = {};
  keep_body_ = keep_body;
  body_.clear();
  body_bytes_ = 0;
  error_.clear();
  state_ = State::kBusy;
  started_ = Clock::now();
  reused_ = fd_ >= 0;
  if (fd_ < 0) {
    Connect();
  } else {
    Flush();
  }
}

void HttpFetch::Connect() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Fail(std::string("socket: ") + std::strerror(errno));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = source_;
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0)
    return Fail(std::string("bind: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLOUT | EPOLLIN;
  ev.data.u64 = tag_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd_, &ev);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&server_), sizeof server_) != 0 && errno != EINPROGRESS)
    return Fail(std::string("connect: ") + std::strerror(errno));
}

void HttpFetch::OnEvents(std::uint32_t events) {
  if (state_ != State::kBusy || fd_ < 0) return;
  if (!connected_ && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return Fail(std::string("connect: ") + std::strerror(err));
    connected_ = true;
  }
  if (connected_ && sent_ < out_.size()) Flush();
  if (state_ == State::kBusy && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) Read();
}

void HttpFetch::Flush() {
  connected_ = true;
  while (sent_ < out_.size()) {
    const ssize_t n = ::send(fd_, out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) return Watch(EPOLLOUT | EPOLLIN);
      if (reused_ && sent_ == 0) {  // the server closed the idle connection first: a new one
        CloseSocket();
        reused_ = false;
        return Connect();
      }
      return Fail(std::string("send: ") + std::strerror(errno));
    }
    sent_ += static_cast<std::size_t>(n);
  }
  Watch(EPOLLIN);
}

void HttpFetch::Read() {
  for (;;) {
    // A body only counted (kernel, initramfs) is discarded in the kernel
    // (MSG_TRUNC on TCP): copying gigabytes would make this one process the
    // storm's bottleneck instead of the servers.
    if (have_head_ && !keep_body_ && head_.content_length) {
      const std::uint64_t left = *head_.content_length - body_bytes_;
      const ssize_t n = ::recv(fd_, nullptr, static_cast<std::size_t>(std::min<std::uint64_t>(left, 1 << 30)),
                               MSG_TRUNC);
      if (n > 0) {
        body_bytes_ += static_cast<std::uint64_t>(n);
        if (body_bytes_ == *head_.content_length) return Finish();
        continue;
      }
      if (n < 0 && errno == EAGAIN) return;
      return Fail(n == 0 ? "connection closed by the server" : std::string("recv: ") + std::strerror(errno));
    }
    // Bounded so that a response's head and first bytes never reach into the next response.
    const std::size_t want = have_head_ && head_.content_length
                                 ? static_cast<std::size_t>(std::min<std::uint64_t>(sizeof g_buffer, *head_.content_length - body_bytes_))
                                 : sizeof g_buffer;
    const ssize_t n = ::recv(fd_, g_buffer, want, 0);
    if (n > 0) {
      Consume(g_buffer, static_cast<std::size_t>(n));
      if (state_ != State::kBusy) return;
      continue;
    }
    if (n < 0 && errno == EAGAIN) return;
    // The server closed: the end of a body without a length, else a failure
    // (a kept-alive connection closed before any answer is retried once).
    if (n == 0 && have_head_ && !head_.content_length && !head_.chunked) return Finish();
    if (reused_ && !have_head_ && head_text_.empty()) {
      CloseSocket();
      reused_ = false;
      sent_ = 0;
      return Connect();
    }
    return Fail(n == 0 ? "connection closed by the server" : std::string("recv: ") + std::strerror(errno));
  }
}

void HttpFetch::Consume(const char* data, std::size_t n) {
  if (!have_head_) {
    const std::size_t before = head_text_.size();
    head_text_.append(data, n);
    const auto end = head_text_.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (head_text_.size() > 64 * 1024) Fail("response head larger than 64 KiB");
      return;
    }
    auto head = ParseResponseHead(std::string_view(head_text_).substr(0, end));
    if (!head) return Fail("malformed response head");
    if (head->chunked) return Fail("chunked response (not read by this client)");
    head_ = *head;
    have_head_ = true;
    const std::size_t body_start = end + 4 - before;  // offset into `data`
    data += body_start;
    n -= body_start;
  }
  std::size_t take = n;
  if (head_.content_length) take = static_cast<std::size_t>(std::min<std::uint64_t>(n, *head_.content_length - body_bytes_));
  if (keep_body_) body_.append(data, take);
  body_bytes_ += take;
  if (head_.content_length && body_bytes_ == *head_.content_length) Finish();
}

void HttpFetch::Finish() {
  if (head_.close || !head_.content_length) CloseSocket();
  state_ = State::kDone;
}

void HttpFetch::OnTick(Clock::time_point now, std::chrono::milliseconds timeout) {
  if (state_ == State::kBusy && now - started_ > timeout)
    Fail(std::string(connected_ ? "HTTP response" : "HTTP connect") + " timed out");
}

}  // namespace metalpxe::bench
