#pragma once
// A deliberately misbehaving HTTP/1.1 server for download tests: it can cut
// a transfer short, honour Range only after the first cut, or stall. It
// listens on 127.0.0.1 in whatever network namespace the constructing
// thread is in, and records every request it saw.
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace metalpxe::testing {

class TinyHttpServer {
 public:
  enum class Mode {
    kTruncateAlways,         // 200 + full Content-Length, then close after `cut` bytes; ignores Range
    kTruncateOnceThenRange,  // like kTruncateAlways the first time; then honours "Range: bytes=N-"
    kStall,                  // 200 + headers + `cut` bytes, then nothing until stopped
  };
  struct Request {
    std::string request_line;
    std::string range;  // value of the Range header, "" when absent
  };

  TinyHttpServer(std::string body, Mode mode, std::size_t cut);
  ~TinyHttpServer();
  TinyHttpServer(const TinyHttpServer&) = delete;
  TinyHttpServer& operator=(const TinyHttpServer&) = delete;

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<Request> requests();

 private:
  void Serve();
  void Handle(int fd, int index);

  const std::string body_;
  const Mode mode_;
  const std::size_t cut_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Request> requests_;
  std::thread thread_;
};

}  // namespace metalpxe::testing
