// Kernel log receiver: the line parser, the framer, the store (ring, bounded
// files, followers) and the TCP receiver fed by a real socket client sending
// Talos's JSON lines (format from siderolabs/talos sender_jsonlines.go).
#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "api/kmsg_line.h"
#include "api/kmsg_log_receiver.h"
#include "api/kmsg_log_store.h"
#include "tests/support/netns.h"
#include "tests/support/subprocess.h"

namespace metalpxe {
namespace {

namespace asio = boost::asio;
using metalpxe::testing::WaitFor;

std::string TalosLine(int seq, const std::string& msg) {
  // Key order as Go's encoding/json writes a map: sorted.
  return R"({"clock":)" + std::to_string(1000 * seq) + R"(,"facility":"kern","msg":")" + msg +
         R"(","priority":"info","seq":)" + std::to_string(seq) +
         R"(,"talos-level":"info","talos-time":"2026-11-24T14:00:00.123456789Z"})";
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/metalpxe-api-kmsg-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::vector<std::string> ReadLines(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(ApiKmsgLine, ParsesTalosLine) {
  auto l = ParseKmsgLine(TalosLine(42, "Linux version 6.6.45-talos"));
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->msg, "Linux version 6.6.45-talos");
  EXPECT_EQ(l->facility, "kern");
  EXPECT_EQ(l->priority, "info");
  EXPECT_EQ(l->talos_level, "info");
  EXPECT_EQ(l->talos_time, "2026-11-24T14:00:00.123456789Z");
  EXPECT_EQ(l->seq, 42);
  EXPECT_EQ(l->clock_us, 42000);
}

TEST(ApiKmsgLine, ToleratesExtraTagsMissingFieldsAndCR) {
  auto l = ParseKmsgLine(R"({"msg":"hi","cluster":"prod","talos-level":"warn"})" "\r");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->msg, "hi");
  EXPECT_EQ(l->talos_level, "warn");
  EXPECT_FALSE(l->seq);
}

TEST(ApiKmsgLine, RejectsMalformed) {
  for (std::string_view bad : {"", "not json", "[1,2]", "\"str\"", R"({"seq":1})", R"({"msg":5})",
                               R"({"msg":"x","seq":"1"})", R"({"msg":"x","seq":1.5})",
                               R"({"msg":"x","seq":18446744073709551615})", R"({"msg":"x","facility":3})",
                               R"({"msg":"x")", R"({"msg":"\ud800"})"}) {
    EXPECT_FALSE(ParseKmsgLine(bad).ok()) << bad;
  }
  EXPECT_TRUE(ParseKmsgLine(R"({"msg":"x","seq":-1})").ok());
}

TEST(ApiKmsgFramer, SplitsBoundsAndResyncs) {
  LineFramer f(8);
  std::vector<std::string> lines;
  int overlong = 0;
  auto on_line = [&](std::string_view l) { lines.emplace_back(l); };
  auto on_over = [&] { ++overlong; };
  f.Feed("abc\nde", on_line, on_over);
  f.Feed("f\n0123456789", on_line, on_over);  // second line is already too long
  f.Feed("abcdef\nok\n", on_line, on_over);
  f.Feed("12345678\n123456789\n", on_line, on_over);  // exactly 8 fits, 9 does not
  f.Feed("tail", on_line, on_over);
  f.Finish(on_line);
  EXPECT_EQ(lines, (std::vector<std::string>{"abc", "def", "ok", "12345678", "tail"}));
  EXPECT_EQ(overlong, 2);
}

TEST(ApiKmsgStore, RingFileRotationAndFollowers) {
  TempDir dir;
  KmsgLogStoreOptions opts;
  opts.log_dir = dir.path() / "logs";
  opts.ring_lines = 50;
  opts.file_max_bytes = 4096;
  KmsgLogStore store(opts);

  std::vector<std::string> followed;
  auto sub = store.Subscribe("node-a", [&](const KmsgLine& l) { followed.push_back(l.msg); });
  for (int i = 0; i < 200; ++i) {
    auto raw = TalosLine(i, "line " + std::to_string(i));
    store.Append("node-a", {{*ParseKmsgLine(raw), raw}});
    if (i == 9) store.Unsubscribe(sub);
  }
  store.Append("node-b", {{*ParseKmsgLine(TalosLine(1, "b")), TalosLine(1, "b")}});

  auto tail = store.Tail("node-a", 1000);
  ASSERT_EQ(tail.size(), 50u);
  EXPECT_EQ(tail.front().msg, "line 150");
  EXPECT_EQ(tail.back().msg, "line 199");
  auto last3 = store.Tail("node-a", 3);
  ASSERT_EQ(last3.size(), 3u);
  EXPECT_EQ(last3[0].msg, "line 197");
  EXPECT_TRUE(store.Tail("nobody", 10).empty());
  EXPECT_EQ(followed.size(), 10u);

  auto file = opts.log_dir / "node-a.log";
  auto rotated = opts.log_dir / "node-a.log.1";
  ASSERT_TRUE(std::filesystem::exists(file));
  ASSERT_TRUE(std::filesystem::exists(rotated));
  EXPECT_LE(std::filesystem::file_size(file), 4096u);
  EXPECT_LE(std::filesystem::file_size(rotated), 4096u);
  auto lines = ReadLines(file);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), TalosLine(199, "line 199"));
  for (const auto& l : lines) EXPECT_TRUE(ParseKmsgLine(l).ok()) << l;
  EXPECT_EQ(store.file_errors(), 0u);
}

TEST(ApiKmsgStore, KeysAreSanitizedAndBounded) {
  EXPECT_EQ(SanitizeLogKey("node-a.lab"), "node-a.lab");
  EXPECT_EQ(SanitizeLogKey("../etc/passwd"), ".._etc_passwd");
  EXPECT_EQ(SanitizeLogKey(".."), "_..");
  EXPECT_EQ(SanitizeLogKey(""), "_");
  EXPECT_EQ(SanitizeLogKey(std::string(500, 'x')).size(), 128u);

  KmsgLogStoreOptions opts;  // memory only
  opts.max_keys = 3;
  KmsgLogStore store(opts);
  for (int i = 0; i < 5; ++i) {
    auto raw = TalosLine(i, "m");
    store.Append("k" + std::to_string(i), {{*ParseKmsgLine(raw), raw}});
  }
  auto keys = store.Keys();
  EXPECT_EQ(keys, (std::vector<std::string>{"k2", "k3", "k4"}));
}

TEST(ApiKmsgStore, RingIsBoundedInBytesAsWellAsLines) {
  KmsgLogStoreOptions opts;  // memory only
  opts.ring_lines = 1000;
  opts.ring_bytes = 64 * 1024;
  KmsgLogStore store(opts);
  const std::string big(8000, 'y');
  for (int i = 0; i < 100; ++i) {
    auto raw = TalosLine(i, big + std::to_string(i));
    store.Append("k", {{*ParseKmsgLine(raw), raw}});
  }
  const auto tail = store.Tail("k", 1000);
  EXPECT_LE(tail.size() * big.size(), 64u * 1024);
  EXPECT_GE(tail.size(), 5u);
  EXPECT_EQ(tail.back().msg, big + "99");
}

TEST(ApiKmsgStore, UnknownSendersEvictOnlyEachOther) {
  KmsgLogStoreOptions opts;  // memory only
  opts.max_keys = 2;
  opts.max_unknown_keys = 2;
  KmsgLogStore store(opts);
  auto raw = TalosLine(1, "m");
  store.Append("cp-1", {{*ParseKmsgLine(raw), raw}});
  for (int i = 0; i < 50; ++i)
    store.Append("10.0.0." + std::to_string(i), {{*ParseKmsgLine(raw), raw}}, KmsgKeyKind::kUnknownSender);
  store.Append("cp-2", {{*ParseKmsgLine(raw), raw}});
  EXPECT_EQ(store.Keys(), (std::vector<std::string>{"10.0.0.48", "10.0.0.49", "cp-1", "cp-2"}));
}

class ApiKmsgReceiver : public ::testing::Test {
 protected:
  void SetUp() override {
    KmsgLogReceiverOptions opts;
    opts.listen_address = "127.0.0.1";
    opts.port = 0;
    opts.max_line_bytes = 1024;
    opts.store.log_dir = dir_.path() / "logs";
    opts.store.ring_lines = 100;
    opts.store.file_max_bytes = 8192;
    receiver_ = std::make_unique<KmsgLogReceiver>(io_, opts, [](const IpAddress& ip) {
      return ip == Ipv4Address::FromOctets(127, 0, 0, 1) ? std::string("node-a") : std::string();
    });
    ASSERT_TRUE(receiver_->Start().ok());
    ASSERT_NE(receiver_->port(), 0);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    receiver_->Stop();
    work_.reset();
    // Stop() closes every socket, so run() returns once the handlers drain.
    ASSERT_TRUE(WaitFor([&] { return io_.stopped(); }, std::chrono::seconds(10)));
    thread_.join();
  }

  asio::ip::tcp::socket Connect() {
    asio::ip::tcp::socket s(client_io_);
    s.connect({asio::ip::make_address("127.0.0.1"), receiver_->port()});
    return s;
  }

  TempDir dir_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  asio::io_context client_io_;
  std::unique_ptr<KmsgLogReceiver> receiver_;
  std::thread thread_;
};

TEST_F(ApiKmsgReceiver, StoresGoodLinesCountsBadOnes) {
  std::vector<std::string> followed;
  std::mutex mu;
  auto sub = receiver_->Subscribe("node-a", [&](const KmsgLine& l) {
    std::lock_guard lock(mu);
    followed.push_back(l.msg);
  });
  {
    auto s = Connect();
    std::string stream = TalosLine(1, "Linux version 6.6.45-talos") + "\n" +  //
                         "garbage that is not json\n" +                       //
                         TalosLine(2, std::string(2000, 'A')) + "\n" +        // overlong
                         "\n" +                                               // blank: ignored
                         TalosLine(3, "[talos] task install (1/1): starting") + "\n" + R"({"seq":4})" + "\n";
    asio::write(s, asio::buffer(stream));
    // A line split across two writes.
    auto split = TalosLine(5, "split line");
    asio::write(s, asio::buffer(split.substr(0, 20)));
    ASSERT_TRUE(WaitFor([&] { return receiver_->counters().lines == 2; }, std::chrono::seconds(10)));
    asio::write(s, asio::buffer(split.substr(20) + "\n"));
    ASSERT_TRUE(WaitFor([&] { return receiver_->counters().lines == 3; }, std::chrono::seconds(10)));
  }
  auto c = receiver_->counters();
  EXPECT_EQ(c.connections, 1u);
  EXPECT_EQ(c.lines, 3u);
  EXPECT_EQ(c.malformed, 2u);
  EXPECT_EQ(c.overlong, 1u);

  auto tail = receiver_->Tail("node-a", 10);
  ASSERT_EQ(tail.size(), 3u);
  EXPECT_EQ(tail[0].msg, "Linux version 6.6.45-talos");
  EXPECT_EQ(tail[1].msg, "[talos] task install (1/1): starting");
  EXPECT_EQ(tail[2].msg, "split line");
  EXPECT_EQ(tail[2].seq, 5);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(followed.size(), 3u);
  }
  receiver_->Unsubscribe(sub);

  auto lines = ReadLines(dir_.path() / "logs" / "node-a.log");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], TalosLine(1, "Linux version 6.6.45-talos"));
}

TEST_F(ApiKmsgReceiver, FileStaysBoundedUnderAFlood) {
  auto s = Connect();
  std::string batch;
  for (int i = 0; i < 1000; ++i) batch += TalosLine(i, "flood " + std::to_string(i)) + "\n";
  asio::write(s, asio::buffer(batch));
  ASSERT_TRUE(WaitFor([&] { return receiver_->counters().lines == 1000; }, std::chrono::seconds(20)));
  auto file = dir_.path() / "logs" / "node-a.log";
  EXPECT_LE(std::filesystem::file_size(file), 8192u);
  EXPECT_LE(std::filesystem::file_size(file.string() + ".1"), 8192u);
  auto tail = receiver_->Tail("node-a", 1000);
  ASSERT_EQ(tail.size(), 100u);
  EXPECT_EQ(tail.back().msg, "flood 999");
  EXPECT_EQ(ReadLines(file).back(), TalosLine(999, "flood 999"));
}

TEST_F(ApiKmsgReceiver, UnterminatedLastLineAndManyConnections) {
  for (int i = 0; i < 5; ++i) {
    auto s = Connect();
    asio::write(s, asio::buffer(TalosLine(i, "conn " + std::to_string(i))));  // no newline, then close
  }
  ASSERT_TRUE(WaitFor([&] { return receiver_->counters().lines == 5; }, std::chrono::seconds(10)));
  EXPECT_EQ(receiver_->counters().connections, 5u);
  EXPECT_EQ(receiver_->Tail("node-a", 10).size(), 5u);
}

TEST_F(ApiKmsgReceiver, BusyboxNcAsPeer) {
  // A different TCP implementation than ours on the sending side.
  auto file = dir_.path() / "kmsg.jsonl";
  {
    std::ofstream out(file);
    for (int i = 0; i < 20; ++i) out << TalosLine(i, "nc line " + std::to_string(i)) << "\n";
    out << "{broken\n";
  }
  auto nc = metalpxe::testing::Subprocess::Start(
      {"sh", "-c", "exec busybox nc 127.0.0.1 " + std::to_string(receiver_->port()) + " < " + file.string()});
  ASSERT_TRUE(WaitFor([&] { return receiver_->counters().lines == 20 && receiver_->counters().malformed == 1; },
                      std::chrono::seconds(20)))
      << nc.Describe();
  auto tail = receiver_->Tail("node-a", 5);
  ASSERT_EQ(tail.size(), 5u);
  EXPECT_EQ(tail.back().msg, "nc line 19");
}

// With server.address6 the receiver listens dual-stack on "::": IPv6
// senders are keyed by their full address (two machines of one /64 each
// keep their own share), and an IPv4 sender (IPv4-mapped) is its IPv4
// address. In a namespace of its own, addresses on its loopback.
TEST(ApiKmsgReceiverIpv6, DualStackListenerKeysIpv6SendersByFullAddress) {
  metalpxe::testing::NetNs ns("km6");
  for (const char* a : {"fd00:66::1/64", "fd00:66::2/128", "fd00:66::3/128"})
    ns.Ip({"addr", "add", a, "dev", "lo", "nodad"});
  TempDir dir;
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  KmsgLogReceiverOptions opts;
  opts.listen_address = "::";
  opts.port = 0;
  opts.per_client_connections = 2;
  opts.store.log_dir = dir.path() / "logs";
  std::vector<std::string> observed;
  std::mutex mu;
  opts.line_observer = [&](const IpAddress& peer, const KmsgLine&) {
    std::lock_guard lock(mu);
    observed.push_back(peer.ToString());
  };
  KmsgLogReceiver receiver(io, opts, [](const IpAddress& ip) {
    if (ip == IpAddress(*Ipv6Address::Parse("fd00:66::2"))) return std::string("node-v6");
    if (ip == IpAddress(Ipv4Address::FromOctets(127, 0, 0, 1))) return std::string("node-v4");
    return std::string();
  });
  asio::io_context client_io;
  std::vector<asio::ip::tcp::socket> sockets;
  auto connect = [&](const char* from, const char* to) {
    asio::ip::tcp::socket s(client_io);
    const auto dest = asio::ip::make_address(to);
    s.open(dest.is_v6() ? asio::ip::tcp::v6() : asio::ip::tcp::v4());
    s.bind({asio::ip::make_address(from), 0});
    s.connect({dest, receiver.port()});
    sockets.push_back(std::move(s));
    return sockets.size() - 1;
  };
  {
    metalpxe::testing::ScopedNetNsEnter enter(ns.name());  // every socket below lives in the namespace
    ASSERT_TRUE(receiver.Start().ok());
    std::thread loop([&] { io.run(); });
    const auto first = connect("fd00:66::2", "fd00:66::1");
    connect("fd00:66::2", "fd00:66::1");
    for (int i = 0; i < 2; ++i) connect("fd00:66::3", "fd00:66::1");
    ASSERT_TRUE(WaitFor([&] { return receiver.counters().connections == 4; }, std::chrono::seconds(10)));
    EXPECT_EQ(receiver.counters().evicted_connections, 0u) << "one /64, a share per address";
    const auto third = connect("fd00:66::2", "fd00:66::1");  // over its share: its stalest goes
    ASSERT_TRUE(WaitFor([&] { return receiver.counters().evicted_connections == 1; }, std::chrono::seconds(10)));
    asio::write(sockets[third], asio::buffer(TalosLine(1, "over ipv6") + "\n"));
    const auto v4 = connect("127.0.0.1", "127.0.0.1");  // mapped on the dual-stack socket
    asio::write(sockets[v4], asio::buffer(TalosLine(2, "over ipv4") + "\n"));
    ASSERT_TRUE(WaitFor([&] { return receiver.counters().lines == 2; }, std::chrono::seconds(10)));
    boost::system::error_code ec;
    char byte;
    sockets[first].read_some(asio::buffer(&byte, 1), ec);  // the evicted one was closed by the receiver
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
    EXPECT_EQ(receiver.Tail("node-v6", 5).size(), 1u);
    EXPECT_EQ(receiver.Tail("node-v4", 5).size(), 1u);
    {
      std::lock_guard lock(mu);
      std::sort(observed.begin(), observed.end());
      EXPECT_EQ(observed, (std::vector<std::string>{"127.0.0.1", "fd00:66::2"}));
    }
    receiver.Stop();
    work.reset();
    ASSERT_TRUE(WaitFor([&] { return io.stopped(); }, std::chrono::seconds(10)));
    loop.join();
  }
}

}  // namespace
}  // namespace metalpxe
