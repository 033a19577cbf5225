#include "tests/images/tiny_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace metalpxe::testing {
namespace {

bool SendAll(int fd, const char* data, std::size_t len) {
  while (len > 0) {
    const ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    len -= static_cast<std::size_t>(n);
  }
  return true;
}

std::string HeaderValue(const std::string& head, const std::string& name) {
  // Case-insensitive search for "\r\nName:".
  std::string lower = head;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string key = "\r\n" + name + ":";
  for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto at = lower.find(key);
  if (at == std::string::npos) return "";
  auto start = at + key.size();
  while (start < head.size() && head[start] == ' ') ++start;
  const auto end = head.find("\r\n", start);
  return head.substr(start, end - start);
}

}  // namespace

TinyHttpServer::TinyHttpServer(std::string body, Mode mode, std::size_t cut)
    : body_(std::move(body)), mode_(mode), cut_(cut) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 16) != 0 || getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("tiny http server: cannot listen");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

TinyHttpServer::~TinyHttpServer() {
  stop_ = true;
  thread_.join();
  close(listen_fd_);
}

std::vector<TinyHttpServer::Request> TinyHttpServer::requests() {
  std::lock_guard lock(mu_);
  return requests_;
}

void TinyHttpServer::Serve() {
  int index = 0;
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    Handle(fd, index++);
    close(fd);
  }
}

void TinyHttpServer::Handle(int fd, int index) {
  std::string head;
  char buf[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 16384) {
    if (std::chrono::steady_clock::now() > deadline || stop_) return;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    head.append(buf, static_cast<std::size_t>(n));
  }
  Request req{head.substr(0, head.find("\r\n")), HeaderValue(head, "Range")};
  {
    std::lock_guard lock(mu_);
    requests_.push_back(req);
  }
  std::size_t from = 0;
  const bool honour_range = mode_ == Mode::kTruncateOnceThenRange && index > 0;
  std::string reply;
  if (honour_range && req.range.rfind("bytes=", 0) == 0) {
    from = std::stoul(req.range.substr(6));
    reply = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " + std::to_string(from) + "-" +
            std::to_string(body_.size() - 1) + "/" + std::to_string(body_.size()) + "\r\n";
  } else {
    reply = "HTTP/1.1 200 OK\r\n";
  }
  reply += "Content-Length: " + std::to_string(body_.size() - from) + "\r\nConnection: close\r\n\r\n";
  if (!SendAll(fd, reply.data(), reply.size())) return;
  const bool cut_now = mode_ != Mode::kTruncateOnceThenRange || index == 0;
  const std::size_t end = cut_now ? std::min(body_.size(), from + cut_) : body_.size();
  if (!SendAll(fd, body_.data() + from, end - from)) return;
  if (mode_ == Mode::kStall) {
    while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace metalpxe::testing
