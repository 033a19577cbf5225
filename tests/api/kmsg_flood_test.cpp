// The kernel log receiver under a bad neighbour, in namespaces: one host
// opens thousands of idle connections, or sends from many addresses, while a
// known machine on another host delivers its lines. Asserts on what the
// peers saw (the flooder's sockets closed by the receiver) and on what the
// store kept.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "api/kmsg_log_receiver.h"
#include "core/fd_limit.h"
#include "core/unique_fd.h"
#include "tests/support/flood_lab.h"
#include "tests/support/subprocess.h"

namespace metalpxe {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using metalpxe::testing::FloodLab;
using metalpxe::testing::ScopedNetNsEnter;
using metalpxe::testing::TcpFlood;
using metalpxe::testing::WaitFor;
using namespace std::chrono_literals;

constexpr std::uint16_t kPort = 50102;

std::string TalosLine(int seq, const std::string& msg) {
  return R"({"clock":)" + std::to_string(1000 * seq) + R"(,"facility":"kern","msg":")" + msg +
         R"(","priority":"info","seq":)" + std::to_string(seq) +
         R"(,"talos-level":"info","talos-time":"2026-11-24T14:00:00.123456789Z"})";
}

// A blocking TCP connection from inside `netns`, optionally from `source`.
UniqueFd ConnectFrom(const std::string& netns, const std::string& to_addr, const std::string& source = "") {
  UniqueFd fd;
  {
    ScopedNetNsEnter enter(netns);
    fd.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  }
  if (!source.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    inet_pton(AF_INET, source.c_str(), &from.sin_addr);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) return {};
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(kPort);
  inet_pton(AF_INET, to_addr.c_str(), &to.sin_addr);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) return {};
  return fd;
}

bool SendAll(const UniqueFd& fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd.get(), data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += std::size_t(n);
  }
  return true;
}

// Open: no FIN or reset from the receiver yet.
bool StillOpen(const UniqueFd& fd) {
  char b;
  const ssize_t n = ::recv(fd.get(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

class KmsgFlood : public ::testing::Test {
 protected:
  void SetUp() override {
    RaiseOpenFileLimit();
    dir_ = fs::temp_directory_path() / ("mpx-kmsg-flood-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (receiver_) {
      receiver_->Stop();
      work_.reset();
      EXPECT_TRUE(WaitFor([&] { return io_.stopped(); }, 20s));
      thread_.join();
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Host 2 is the known machine "node-b"; every other address is unknown.
  void StartReceiver(KmsgLogReceiverOptions opts) {
    opts.listen_address = "0.0.0.0";
    opts.port = kPort;
    opts.store.log_dir = dir_ / "logs";
    const auto node_b = *Ipv4Address::Parse(FloodLab::HostAddress(2));
    receiver_ = std::make_unique<KmsgLogReceiver>(
        io_, opts, [node_b](const IpAddress& ip) { return ip == IpAddress(node_b) ? std::string("node-b") : std::string(); });
    {
      ScopedNetNsEnter enter(lab_.server().name());
      ASSERT_TRUE(receiver_->Start().ok());
    }
    thread_ = std::thread([this] { io_.run(); });
  }

  FloodLab lab_{"kfl", 2};
  fs::path dir_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::unique_ptr<KmsgLogReceiver> receiver_;
  std::thread thread_;
};

TEST_F(KmsgFlood, AMachineDeliversItsLinesWhileAnotherHostHoldsThousandsOfConnections) {
  StartReceiver({});
  const std::size_t per_client = KmsgLogReceiverOptions{}.per_client_connections;
  TcpFlood flood(lab_.host(1).name(), FloodLab::ServerAddressFor(1), kPort);
  ASSERT_EQ(flood.Open(2000, 60s), 2000u);
  // Each new connection of the flooder closed one of its older ones.
  ASSERT_TRUE(WaitFor([&] { return flood.OpenNow() == per_client; }, 60s)) << flood.OpenNow();

  auto node = ConnectFrom(lab_.host(2).name(), FloodLab::ServerAddressFor(2));
  ASSERT_TRUE(node.valid());
  ASSERT_TRUE(SendAll(node, TalosLine(1, "Linux version 6.6.45-talos") + "\n" + TalosLine(2, "booted") + "\n"));
  ASSERT_TRUE(WaitFor([&] { return receiver_->Tail("node-b", 10).size() == 2; }, 20s));
  EXPECT_EQ(receiver_->Tail("node-b", 10).back().msg, "booted");
  EXPECT_EQ(flood.OpenNow(), per_client);  // the flood was held all along
  EXPECT_GE(receiver_->counters().evicted_connections, 2000u - per_client);
  EXPECT_TRUE(StillOpen(node));
}

TEST_F(KmsgFlood, SilentConnectionsCloseAndSpeakersStay) {
  KmsgLogReceiverOptions opts;
  opts.silent_timeout = 2s;
  opts.per_client_connections = 1000;  // let the silent ones in: the timeout is under test
  opts.max_connections = 2000;
  StartReceiver(opts);
  auto node = ConnectFrom(lab_.host(2).name(), FloodLab::ServerAddressFor(2));
  ASSERT_TRUE(node.valid());
  ASSERT_TRUE(SendAll(node, TalosLine(1, "hello") + "\n"));
  ASSERT_TRUE(WaitFor([&] { return receiver_->Tail("node-b", 10).size() == 1; }, 20s));

  TcpFlood flood(lab_.host(1).name(), FloodLab::ServerAddressFor(1), kPort);
  ASSERT_EQ(flood.Open(500, 30s), 500u);
  // Opened after the node spoke: once they are closed for silence, the node
  // has been quiet for longer than the timeout, and is still connected.
  ASSERT_TRUE(WaitFor([&] { return flood.OpenNow() == 0; }, 60s)) << flood.OpenNow();
  EXPECT_EQ(receiver_->counters().silent_closed, 500u);
  EXPECT_TRUE(StillOpen(node));
  ASSERT_TRUE(SendAll(node, TalosLine(2, "after a quiet spell") + "\n"));
  ASSERT_TRUE(WaitFor([&] { return receiver_->Tail("node-b", 10).size() == 2; }, 20s));
}

TEST_F(KmsgFlood, ASenderOnManyAddressesCannotEvictAKnownMachinesLogs) {
  KmsgLogReceiverOptions opts;
  opts.store.ring_lines = 100;
  opts.store.max_keys = 4;
  opts.store.max_unknown_keys = 8;
  StartReceiver(opts);
  auto node = ConnectFrom(lab_.host(2).name(), FloodLab::ServerAddressFor(2));
  ASSERT_TRUE(SendAll(node, TalosLine(1, "node-b line") + "\n"));
  ASSERT_TRUE(WaitFor([&] { return receiver_->Tail("node-b", 10).size() == 1; }, 20s));

  // 50 addresses on host 1, each sending 200 lines, one of them overlong.
  constexpr int kAddresses = 50;
  lab_.host(1).Sh("i=10; while [ $i -lt " + std::to_string(10 + kAddresses) +
                  " ]; do ip addr add 10.77.1.$i/24 dev veth-s || exit 1; i=$((i+1)); done");
  std::string burst;
  for (int i = 0; i < 200; ++i) burst += TalosLine(i, "flood " + std::to_string(i)) + "\n";
  burst += TalosLine(200, std::string(20000, 'x')) + "\n";
  for (int a = 0; a < kAddresses; ++a) {
    auto fd = ConnectFrom(lab_.host(1).name(), FloodLab::ServerAddressFor(1), "10.77.1." + std::to_string(10 + a));
    ASSERT_TRUE(fd.valid());
    ASSERT_TRUE(SendAll(fd, burst));
  }
  ASSERT_TRUE(WaitFor([&] { return receiver_->counters().lines == 1 + 200u * kAddresses; }, 60s))
      << receiver_->counters().lines;

  // The known machine's lines are all there; unknown senders kept at most
  // their budget of rings and of files, each ring at most ring_lines.
  const auto tail = receiver_->Tail("node-b", 10);
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].msg, "node-b line");
  const auto keys = receiver_->store().Keys();
  EXPECT_EQ(keys.size(), 1u + 8u);
  for (const auto& k : keys)
    if (k != "node-b") {
      EXPECT_EQ(receiver_->Tail(k, 1000).size(), 100u) << k;
    }
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "logs"))
    if (e.path().extension() == ".log") ++files;
  EXPECT_EQ(files, 1u + 8u);
  EXPECT_EQ(receiver_->counters().overlong, std::uint64_t(kAddresses));
}

}  // namespace
}  // namespace metalpxe
