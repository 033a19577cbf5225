// The HTTP server under a bad neighbour, with its default limits: one host
// (a namespace of its own) holds thousands of idle TCP connections while
// other hosts fetch their iPXE script with curl and download a boot asset.
// Asserts on what the peers saw: curl's answer, the flooder's sockets closed
// by the server, bytes of a download compared with the file.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "core/fd_limit.h"
#include "core/unique_fd.h"
#include "http/http_server.h"
#include "tests/support/flood_lab.h"
#include "tests/support/subprocess.h"

namespace metalpxe::http {
namespace {

namespace fs = std::filesystem;
using metalpxe::testing::FloodLab;
using metalpxe::testing::RunCommand;
using metalpxe::testing::ScopedNetNsEnter;
using metalpxe::testing::TcpFlood;
using metalpxe::testing::WaitFor;
using namespace std::chrono_literals;

constexpr std::uint16_t kPort = 8080;
constexpr std::size_t kFloodConnections = 2000;  // the figure
constexpr std::size_t kAssetBytes = 16u << 20;

const std::string kScript = "#!ipxe\nkernel /assets/vmlinuz\nboot\n";

class HttpFlood : public ::testing::Test {
 protected:
  void SetUp() override {
    RaiseOpenFileLimit();  // this process is server and flooder at once
    dir_ = fs::temp_directory_path() / ("mpx-http-flood-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    asset_.resize(kAssetBytes);
    std::mt19937 rng(7);
    for (auto& c : asset_) c = static_cast<char>(rng());
    std::ofstream(dir_ / "big.bin", std::ios::binary).write(asset_.data(), std::streamsize(asset_.size()));
  }
  void TearDown() override {
    server_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Defaults as the daemon uses them; only the address and timeouts a test names.
  void StartServer(HttpServerOptions options) {
    options.port = kPort;
    server_ = std::make_unique<HttpServer>(options);
    server_->Handle("/ipxe", [](const HttpRequest&) { return HttpResponse::Text(200, kScript); });
    server_->ServeFiles("/assets", {dir_.string()});
    ScopedNetNsEnter enter(lab_.server().name());
    const Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // curl from host i; returns {exit code, body or curl's message}.
  metalpxe::testing::CommandResult CurlFrom(int host, const std::string& path) {
    return RunCommand({"curl", "-sS", "--max-time", "20", "http://" + FloodLab::ServerAddressFor(host) + ":" +
                                                              std::to_string(kPort) + path},
                      30s, lab_.host(host).name());
  }

  FloodLab lab_{"hfl", 3};
  fs::path dir_;
  std::string asset_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpFlood, OtherHostsAreServedWhileOneHostHoldsThousandsOfConnections) {
  HttpServerOptions options;
  options.idle_timeout = 300s;  // hold the flood for the whole test: only the limits are under test here
  options.send_stall_timeout = 300s;
  StartServer(options);
  const std::size_t per_ip = HttpServerOptions{}.per_ip_connection_limit;

  TcpFlood flood(lab_.host(1).name(), FloodLab::ServerAddressFor(1), kPort);
  ASSERT_EQ(flood.Open(kFloodConnections, 60s), kFloodConnections);
  // The server keeps the flooder's first per_ip connections and closes the rest.
  ASSERT_TRUE(WaitFor([&] { return flood.OpenNow() == per_ip; }, 60s)) << flood.OpenNow();
  ASSERT_TRUE(WaitFor([&] { return server_->Stats().active_connections == per_ip; }, 10s));

  const auto r = CurlFrom(2, "/ipxe?mac=52-54-00-12-34-56");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, kScript);
  const auto asset = RunCommand({"sh", "-c", "curl -sS --max-time 60 http://" + FloodLab::ServerAddressFor(3) + ":" +
                                                 std::to_string(kPort) + "/assets/big.bin | sha256sum"},
                                90s, lab_.host(3).name());
  const auto expected = RunCommand({"sh", "-c", "sha256sum < " + (dir_ / "big.bin").string()});
  EXPECT_EQ(asset.output, expected.output);

  // Still held while the others were served, and the flooder's own new
  // request is closed unanswered.
  EXPECT_EQ(flood.OpenNow(), per_ip);
  const auto own = CurlFrom(1, "/ipxe");
  EXPECT_NE(own.exit_code, 0) << own.output;
  EXPECT_GE(server_->Stats().connections_refused, kFloodConnections - per_ip);
}

// One idle connection per address and many addresses, like a boot storm
// whose machines each keep a connection open: the per-address limit does not
// touch them, and the server's total is far from reached.
TEST_F(HttpFlood, AStormOfDistinctAddressesIsNotLimited) {
  // Idle closing is the next test's: on a loaded machine opening 400
  // connections can take longer than the default idle timeout.
  HttpServerOptions options;
  options.idle_timeout = 300s;  // the storm must not race the idle timeout on a loaded machine
  options.send_stall_timeout = 300s;
  StartServer(options);
  constexpr int kAddresses = 200;
  lab_.host(2).Sh("i=10; while [ $i -lt " + std::to_string(10 + kAddresses) +
                   " ]; do ip addr add 10.77.2.$i/24 dev veth-s || exit 1; i=$((i+1)); done");
  std::vector<UniqueFd> socks;
  {
    ScopedNetNsEnter enter(lab_.host(2).name());
    for (int i = 0; i < kAddresses; ++i) {
      for (int k = 0; k < 2; ++k) {
        UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in from{}, to{};
        from.sin_family = to.sin_family = AF_INET;
        inet_pton(AF_INET, ("10.77.2." + std::to_string(10 + i)).c_str(), &from.sin_addr);
        inet_pton(AF_INET, FloodLab::ServerAddressFor(2).c_str(), &to.sin_addr);
        to.sin_port = htons(kPort);
        ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof from), 0);
        ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
        socks.push_back(std::move(fd));
      }
    }
  }
  // Every one of them gets its script on its (by now long-open) connection.
  const std::string request = "GET /ipxe HTTP/1.1\r\nHost: metalpxe\r\n\r\n";
  for (auto& fd : socks)
    ASSERT_EQ(::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL), ssize_t(request.size()));
  std::size_t answered = 0;
  for (auto& fd : socks) {
    std::string got;
    char buf[1024];
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (got.find(kScript) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, std::size_t(n));
    }
    if (got.rfind("HTTP/1.1 200", 0) == 0 && got.find(kScript) != std::string::npos) ++answered;
  }
  EXPECT_EQ(answered, socks.size());
  EXPECT_EQ(server_->Stats().connections_refused, 0u);
}

// Idle ≠ slow: idle connections are closed after the idle timeout, while a
// download whose client stopped reading for longer than that survives and
// completes byte for byte.
TEST_F(HttpFlood, IdleConnectionsCloseButAStalledDownloadSurvives) {
  HttpServerOptions options;
  options.idle_timeout = 2s;
  options.send_stall_timeout = 120s;
  StartServer(options);

  // The download: a small receive buffer and no reading after the first
  // bytes, so the server's send makes no progress from then on.
  UniqueFd dl;
  {
    ScopedNetNsEnter enter(lab_.host(3).name());
    dl.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  }
  const int rcvbuf = 16 * 1024;
  ASSERT_EQ(::setsockopt(dl.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(kPort);
  inet_pton(AF_INET, FloodLab::ServerAddressFor(3).c_str(), &to.sin_addr);
  ASSERT_EQ(::connect(dl.get(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  const std::string request = "GET /assets/big.bin HTTP/1.1\r\nHost: metalpxe\r\n\r\n";
  ASSERT_EQ(::send(dl.get(), request.data(), request.size(), MSG_NOSIGNAL), ssize_t(request.size()));
  std::string got;
  char buf[64 * 1024];
  while (got.size() < 64 * 1024) {
    pollfd p{dl.get(), POLLIN, 0};
    ASSERT_GT(::poll(&p, 1, 20'000), 0) << "no response";
    const ssize_t n = ::recv(dl.get(), buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    got.append(buf, std::size_t(n));
  }

  // Opened after the download stalled, one batch after the other: once the
  // idle timeout has closed both, the download has been stalled for more
  // than twice that, a whole idle period of margin.
  for (int round = 0; round < 2; ++round) {
    TcpFlood flood(lab_.host(1).name(), FloodLab::ServerAddressFor(1), kPort);
    ASSERT_EQ(flood.Open(100, 30s), 100u);
    ASSERT_TRUE(WaitFor([&] { return flood.OpenNow() == 0; }, 60s)) << flood.OpenNow();
  }

  const auto header_end = got.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos);
  ASSERT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got.substr(0, header_end);
  std::string body = got.substr(header_end + 4);
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (body.size() < kAssetBytes && std::chrono::steady_clock::now() < deadline) {
    pollfd p{dl.get(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const ssize_t n = ::recv(dl.get(), buf, sizeof buf, 0);
    if (n <= 0) break;  // closed by the server: the test fails below
    body.append(buf, std::size_t(n));
  }
  ASSERT_EQ(body.size(), kAssetBytes);
  EXPECT_TRUE(body == asset_);
}

TEST(HttpLimits, StartRefusesAPerAddressLimitThatCouldTakeTheServer) {
  HttpServerOptions options;
  options.port = 0;
  options.connection_limit = 100;
  options.per_ip_connection_limit = 51;
  EXPECT_EQ(HttpServer(options).Start().code(), ErrorCode::kInvalidArgument);
  options.per_ip_connection_limit = 0;
  EXPECT_EQ(HttpServer(options).Start().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace metalpxe::http
