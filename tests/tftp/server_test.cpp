// The TFTP server against real clients (atftp, curl) and a raw UDP client
// that loses, repeats and withholds ACKs. Everything runs in a network
// namespace the test creates; the server listens on its loopback only.
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <memory>
#include <sstream>
#include <thread>

#include "pxe/tftp/tftp_server.h"
#include "tests/support/netns.h"
#include "tests/support/subprocess.h"
#include "tests/tftp/raw_client.h"

namespace metalpxe::tftp {
namespace {

namespace fs = std::filesystem;
using metalpxe::testing::NetNs;
using metalpxe::testing::RunCommand;
using metalpxe::testing::ScopedNetNsEnter;
using testing::RawTftpClient;
using namespace std::chrono_literals;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Deterministic bytes that differ block to block, so a misplaced block shows.
void WritePattern(const fs::path& p, std::size_t size, std::uint32_t seed) {
  std::string data(size, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : data) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  std::ofstream(p, std::ios::binary) << data;
}

class tftp_server : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tftp-server-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    root_ = base_ / "root";
    out_ = base_ / "out";
    fs::create_directories(root_ / "sub");
    fs::create_directories(out_);
    WritePattern(root_ / "small.txt", 100, 1);
    WritePattern(root_ / "exact1468.bin", 1468 * 8, 2);  // ends with an empty DATA block
    WritePattern(root_ / "exact512.bin", 512 * 20, 3);
    WritePattern(root_ / "big.bin", 5 * 1024 * 1024 + 123, 4);
    WritePattern(root_ / "sub" / "nested.bin", 3000, 5);
    WritePattern(base_ / "secret", 50, 6);
    fs::create_symlink("/etc/passwd", root_ / "abs-out");
    fs::create_symlink("../secret", root_ / "rel-out");
    fs::create_symlink("sub/nested.bin", root_ / "rel-in");
  }

  void TearDown() override {
    StopServer();
    fs::remove_all(base_);
  }

  void StopServer() {
    if (thread_.joinable()) {
      boost::asio::post(io_, [this] {
        server_->Stop();
        io_.stop();
      });
      thread_.join();
    }
    server_.reset();
  }

  void StartServer(TftpOptions options = {}, std::string netns = "") {
    if (netns.empty()) netns = ns_.name();
    options.root = root_.string();
    options.port = 0;
    server_ = std::make_unique<TftpServer>(io_, options);
    std::promise<Status> started;
    thread_ = std::thread([this, &started, netns] {
      // The loop thread lives in the namespace: transfer sockets are made there.
      ScopedNetNsEnter enter(netns);
      started.set_value(server_->Start());
      io_.run();
    });
    const Status st = started.get_future().get();
    ASSERT_TRUE(st.ok()) << st.ToString();
    port_ = std::to_string(server_->port());
  }

  metalpxe::testing::CommandResult Atftp(const std::string& file, const fs::path& out,
                                         std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{"atftp"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    for (std::string a : {"-g", "-r"}) argv.push_back(a);
    argv.push_back(file);
    argv.push_back("-l");
    argv.push_back(out.string());
    argv.push_back("127.0.0.1");
    argv.push_back(port_);
    return RunCommand(argv, 60s, ns_.name());
  }

  metalpxe::testing::CommandResult Curl(const std::string& url_path, const fs::path& out,
                                        std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{"curl", "-sS", "--path-as-is", "--max-time", "30", "-o", out.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("tftp://127.0.0.1:" + port_ + "/" + url_path);
    return RunCommand(argv, 60s, ns_.name());
  }

  std::uint16_t Port() const { return static_cast<std::uint16_t>(std::stoi(port_)); }

  NetNs ns_{"tftp"};
  fs::path base_, root_, out_;
  boost::asio::io_context io_;
  std::unique_ptr<TftpServer> server_;
  std::thread thread_;
  std::string port_;
};

// ---- real clients -------------------------------------------------------------

// DHCPv6 clients are handed tftp://[addr]/file: the IPv6 listener serves
// atftp over ::1 byte for byte, windowed, and refuses what IPv4 refuses.
TEST_F(tftp_server, AtftpOverIpv6) {
  TftpOptions o;
  o.ipv6 = true;
  StartServer(o);
  auto r = RunCommand({"atftp", "--option", "blksize 1428", "--option", "windowsize 8", "-g", "-r", "big.bin", "-l",
                       (out_ / "big6.bin").string(), "::1", port_},
                      60s, ns_.name());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadAll(out_ / "big6.bin"), ReadAll(root_ / "big.bin"));
  auto refused = RunCommand({"atftp", "-g", "-r", "abs-out", "-l", (out_ / "x").string(), "::1", port_}, 60s,
                            ns_.name());
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  // The IPv4 address is not served by the IPv6 listener.
  auto v4 = RunCommand({"timeout", "5", "atftp", "-g", "-r", "small.txt", "-l", (out_ / "y").string(), "127.0.0.1",
                        port_},
                       10s, ns_.name());
  EXPECT_NE(v4.exit_code, 0) << v4.output;
}

TEST_F(tftp_server, AtftpWindowedDownloadsAreIdentical) {
  StartServer();
  for (const std::string name : {"small.txt", "exact1468.bin", "big.bin"}) {
    const fs::path out = out_ / name;
    auto r = Atftp(name, out,
                   {"--trace", "--option", "blksize 1468", "--option", "windowsize 16", "--option", "tsize 0"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(ReadAll(out), ReadAll(root_ / name)) << name;
    // What atftp saw in our OACK: every option, tsize = the file's size.
    const auto oack = r.output.substr(r.output.find("received OACK"), 120);
    EXPECT_NE(oack.find("blksize: 1468"), std::string::npos) << oack;
    EXPECT_NE(oack.find("windowsize: 16"), std::string::npos) << oack;
    EXPECT_NE(oack.find("tsize: " + std::to_string(fs::file_size(root_ / name))), std::string::npos) << oack;
  }
  const auto s = server_->Stats();
  EXPECT_EQ(s.transfers_completed, 3u);
  EXPECT_EQ(s.transfers_failed, 0u);
  EXPECT_EQ(s.bytes_sent, fs::file_size(root_ / "small.txt") + fs::file_size(root_ / "exact1468.bin") +
                              fs::file_size(root_ / "big.bin"));
}

TEST_F(tftp_server, AtftpLockStepWithoutOptions) {
  StartServer();
  auto r = Atftp("exact512.bin", out_ / "e", {"--trace"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadAll(out_ / "e"), ReadAll(root_ / "exact512.bin"));
  EXPECT_EQ(r.output.find("OACK"), std::string::npos) << "no options asked, none answered";
}

TEST_F(tftp_server, BlockNumbersWrapPast65535) {
  // 65,536+ blocks of 512 bytes: block numbers roll over 65535 -> 0.
  WritePattern(root_ / "wrap.bin", 512u * 65536u + 777u, 7);
  StartServer();
  auto r = Atftp("wrap.bin", out_ / "wrap", {"--option", "blksize 512", "--option", "windowsize 16"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(ReadAll(out_ / "wrap") == ReadAll(root_ / "wrap.bin"));
}

TEST_F(tftp_server, CurlDownloadsAreIdentical) {
  StartServer();
  for (const std::string name : {"small.txt", "exact512.bin", "exact1468.bin", "big.bin"}) {
    auto r = Curl(name, out_ / (name + ".default"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(ReadAll(out_ / (name + ".default")), ReadAll(root_ / name)) << name;
    r = Curl(name, out_ / (name + ".1468"), {"--tftp-blksize", "1468"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(ReadAll(out_ / (name + ".1468")), ReadAll(root_ / name)) << name;
  }
  EXPECT_EQ(server_->Stats().transfers_completed, 8u);
  // Each completed transfer is one duration observation.
  const auto durations = server_->Stats().durations;
  EXPECT_EQ(durations.count, 8u);
  EXPECT_GT(durations.sum_seconds, 0.0);
}

TEST_F(tftp_server, PathsInsideTheRootAreServed) {
  StartServer();
  auto r = Curl("/sub/nested.bin", out_ / "abs");  // a leading '/' is relative to the root
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadAll(out_ / "abs"), ReadAll(root_ / "sub" / "nested.bin"));
  r = Curl("rel-in", out_ / "link");  // symlink that stays inside
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadAll(out_ / "link"), ReadAll(root_ / "sub" / "nested.bin"));
}

TEST_F(tftp_server, ServesOnlyOnItsInterface) {
  // Server on veth-s (SO_BINDTODEVICE, wildcard address), client across the veth.
  metalpxe::testing::VethPair pair("tfv", "10.78.0.1/24", "10.78.0.2/24");
  TftpOptions o;
  o.interface = "veth-s";
  StartServer(o, pair.server.name());
  auto r = RunCommand({"curl", "-sS", "--max-time", "20", "--tftp-blksize", "1468", "-o", (out_ / "veth").string(),
                       "tftp://10.78.0.1:" + port_ + "/big.bin"},
                      60s, pair.client.name());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(ReadAll(out_ / "veth") == ReadAll(root_ / "big.bin"));
  // The same server does not answer on the namespace's loopback.
  r = RunCommand({"curl", "-sS", "--max-time", "2", "-o", (out_ / "lo").string(),
                  "tftp://127.0.0.1:" + port_ + "/small.txt"},
                 30s, pair.server.name());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(server_->Stats().transfers_completed, 1u);
  StopServer();  // before the namespaces go
}

// curl exit codes: 68 = TFTP file not found (ERROR 1), 69 = TFTP permission problem (ERROR 2).
TEST_F(tftp_server, TraversalAttemptsAreRefused) {
  StartServer();
  EXPECT_EQ(Curl("../etc/passwd", out_ / "t1").exit_code, 69);
  EXPECT_EQ(Curl("sub/../../secret", out_ / "t2").exit_code, 69);
  EXPECT_EQ(Curl("..%2f..%2f..%2fetc%2fpasswd", out_ / "t3").exit_code, 69);
  EXPECT_EQ(Curl("abs-out", out_ / "t4").exit_code, 69);  // symlink to /etc/passwd
  EXPECT_EQ(Curl("rel-out", out_ / "t5").exit_code, 69);  // symlink to ../secret
  // An absolute path is taken inside the root, where there is no etc/passwd.
  EXPECT_EQ(Curl("/etc/passwd", out_ / "t6").exit_code, 68);
  EXPECT_EQ(Curl("/" + (base_ / "secret").string(), out_ / "t7").exit_code, 68);
  auto r = Atftp("../secret", out_ / "t8");
  EXPECT_NE(r.output.find("access violation"), std::string::npos) << r.output;
  for (const char* f : {"t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"}) {
    const auto p = out_ / f;
    EXPECT_TRUE(!fs::exists(p) || fs::file_size(p) == 0) << f << " got content";
  }
  const auto s = server_->Stats();
  EXPECT_EQ(s.transfers_started, 0u);
  EXPECT_EQ(s.requests_refused, 8u);
}

// Files not in the root (the Secure Boot chain's GRUB configs): asked first,
// with the client's address; nullopt leaves the name to the root.
TEST_F(tftp_server, VirtualFilesComeFirstWithTheClientsAddress) {
  std::vector<std::string> asked;
  std::vector<std::string> peers;
  TftpOptions o;
  o.virtual_files = [&](std::string_view name, Ipv4Address peer) -> std::optional<Result<OpenedFile>> {
    asked.emplace_back(name);
    peers.push_back(peer.ToString());
    if (name == "grub/grub.cfg") {
      UniqueFd fd(::memfd_create("tftp-test", MFD_CLOEXEC));
      const std::string text = "rendered for " + peer.ToString() + "\n";
      EXPECT_EQ(::write(fd.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
      return Result<OpenedFile>(OpenedFile{std::move(fd), text.size()});
    }
    if (name == "small.txt") return Result<OpenedFile>(ErrorCode::kNotFound, "hidden");
    return std::nullopt;
  };
  StartServer(o);
  auto r = Curl("grub/grub.cfg", out_ / "v");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadAll(out_ / "v"), "rendered for 127.0.0.1\n");
  EXPECT_EQ(Curl("small.txt", out_ / "hidden").exit_code, 68);  // the hook's answer wins over the root
  r = Curl("sub/nested.bin", out_ / "root");                     // not the hook's: the root's
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadAll(out_ / "root"), ReadAll(root_ / "sub" / "nested.bin"));
  StopServer();
  EXPECT_EQ(asked, (std::vector<std::string>{"grub/grub.cfg", "small.txt", "sub/nested.bin"}));
  EXPECT_EQ(peers, (std::vector<std::string>{"127.0.0.1", "127.0.0.1", "127.0.0.1"}));
}

// Over IPv6 the hook still comes first, told no IPv4 address (the timeline
// and GRUB's per-MAC files key on IPv4): never a crash on an IPv6 peer.
TEST_F(tftp_server, VirtualFilesOverIpv6AreAskedWithoutAnAddress) {
  std::vector<std::string> peers;
  TftpOptions o;
  o.ipv6 = true;
  o.virtual_files = [&](std::string_view, Ipv4Address peer) -> std::optional<Result<OpenedFile>> {
    peers.push_back(peer.ToString());
    return std::nullopt;
  };
  StartServer(o);
  auto r = RunCommand({"atftp", "-g", "-r", "small.txt", "-l", (out_ / "v6").string(), "::1", port_}, 60s,
                      ns_.name());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadAll(out_ / "v6"), ReadAll(root_ / "small.txt"));
  StopServer();
  EXPECT_EQ(peers, (std::vector<std::string>{"0.0.0.0"}));
}

TEST_F(tftp_server, MissingFileIsErrorOne) {
  StartServer();
  EXPECT_EQ(Curl("nope.efi", out_ / "n").exit_code, 68);
}

TEST_F(tftp_server, WriteRequestsAreRefused) {
  StartServer();
  std::ofstream(out_ / "upload") << "data";
  auto r = RunCommand({"curl", "-sS", "-T", (out_ / "upload").string(), "tftp://127.0.0.1:" + port_ + "/upload"},
                      30s, ns_.name());
  EXPECT_EQ(r.exit_code, 69) << r.output;
  EXPECT_FALSE(fs::exists(root_ / "upload"));

  RawTftpClient c(ns_.name());
  c.SendTo(Port(), EncodeRequest(RequestPacket{Opcode::kWrq, "x", "octet", {}}));
  auto d = c.Receive(3s);
  ASSERT_TRUE(d.has_value());
  auto p = ParsePacket(d->bytes);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(std::holds_alternative<ErrorPacket>(*p));
  EXPECT_EQ(std::get<ErrorPacket>(*p).code, static_cast<std::uint16_t>(TftpError::kAccessViolation));
}

// ---- raw client: loss, duplicates, windows, limits ---------------------------

struct RawResult {
  std::string content;
  std::map<std::uint16_t, int> data_count;  // DATA packets seen per block number
  int total_data = 0;
  bool complete = false;
};

// A client loop with knobs: which ACKs to drop (first time only), how often
// to send each ACK, which DATA to pretend lost (first time only), and a
// windowsize to ACK per RFC 7440 (every window, or at a gap).
struct RawPolicy {
  std::uint16_t block_size = 512;
  std::uint16_t window = 1;
  std::set<std::uint16_t> drop_ack_once;
  std::set<std::uint16_t> drop_data_once;
  int ack_copies = 1;
};

RawResult RawDownload(RawTftpClient& c, std::uint16_t port, const std::string& file, const RawPolicy& policy) {
  std::vector<TftpOption> options;
  if (policy.block_size != 512) options.push_back({"blksize", std::to_string(policy.block_size)});
  if (policy.window != 1) options.push_back({"windowsize", std::to_string(policy.window)});
  c.SendRrq(port, file, options);
  RawResult res;
  std::uint16_t tid = 0;
  std::uint16_t expected = 1;
  int since_ack = 0;
  bool gap_acked = false;
  auto drop_ack = policy.drop_ack_once;
  auto drop_data = policy.drop_data_once;
  auto ack = [&](std::uint16_t block) {
    if (drop_ack.erase(block)) return;
    for (int i = 0; i < policy.ack_copies; ++i) c.SendTo(tid, EncodeAck(block));
  };
  for (int i = 0; i < 100000; ++i) {
    auto d = c.Receive(5s);
    if (!d) break;
    auto p = ParsePacket(d->bytes);
    if (!p.ok()) continue;
    if (tid == 0) tid = d->from_port;
    if (std::holds_alternative<OackPacket>(*p)) {
      ack(0);
      continue;
    }
    if (!std::holds_alternative<DataPacket>(*p)) break;
    const auto& data = std::get<DataPacket>(*p);
    res.data_count[data.block]++;
    res.total_data++;
    if (drop_data.erase(data.block)) continue;
    if (data.block == static_cast<std::uint16_t>(expected - 1)) {
      ack(data.block);  // a resent block we already have: ACK it again, as RFC 1350 clients do
      continue;
    }
    if (data.block != expected) {
      // Out of order: ACK the last good block once per gap (RFC 7440).
      if (!gap_acked && static_cast<std::uint16_t>(data.block - expected) < 0x8000) {
        ack(static_cast<std::uint16_t>(expected - 1));
        gap_acked = true;
        since_ack = 0;
      }
      continue;
    }
    gap_acked = false;
    res.content.append(reinterpret_cast<const char*>(data.payload.data()), data.payload.size());
    const bool last = data.payload.size() < policy.block_size;
    ++expected;
    if (++since_ack == policy.window || last) {
      ack(data.block);
      since_ack = 0;
    }
    if (last) {
      res.complete = true;
      break;
    }
  }
  // Whatever the server still sends after the end would be amplification.
  while (auto d = c.Receive(300ms)) {
    auto p = ParsePacket(d->bytes);
    if (p.ok() && std::holds_alternative<DataPacket>(*p)) {
      res.data_count[std::get<DataPacket>(*p).block]++;
      res.total_data++;
    }
  }
  return res;
}

TEST_F(tftp_server, LostAckIsRecoveredByRetransmission) {
  TftpOptions o;
  o.retransmit_timeout = 200ms;
  StartServer(o);
  RawTftpClient c(ns_.name());
  RawPolicy policy;
  policy.drop_ack_once = {5};
  const auto r = RawDownload(c, Port(), "exact512.bin", policy);  // 21 blocks
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.content, ReadAll(root_ / "exact512.bin"));
  EXPECT_EQ(r.data_count.at(5), 2) << "block 5 resent once after its ACK was lost";
  EXPECT_EQ(r.total_data, 22);
  const auto s = server_->Stats();
  EXPECT_EQ(s.retransmits, 1u);
  EXPECT_EQ(s.transfers_completed, 1u);
}

TEST_F(tftp_server, DuplicateAcksAreNotAmplified) {
  TftpOptions o;
  o.retransmit_timeout = 5s;  // so only an ACK could cause a resend here
  StartServer(o);
  RawTftpClient c(ns_.name());
  RawPolicy policy;
  policy.ack_copies = 3;
  const auto r = RawDownload(c, Port(), "exact512.bin", policy);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.content, ReadAll(root_ / "exact512.bin"));
  EXPECT_EQ(r.total_data, 21) << "every block exactly once despite every ACK sent three times";
  for (const auto& [block, n] : r.data_count) EXPECT_EQ(n, 1) << "block " << block;

  policy.window = 8;  // and the same with windows
  const auto w = RawDownload(c, Port(), "exact512.bin", policy);
  ASSERT_TRUE(w.complete);
  EXPECT_EQ(w.content, ReadAll(root_ / "exact512.bin"));
  EXPECT_EQ(w.total_data, 21);
  EXPECT_EQ(server_->Stats().retransmits, 0u);
}

TEST_F(tftp_server, PartialWindowAckResumesAfterTheAckedBlock) {
  TftpOptions o;
  o.retransmit_timeout = 5s;  // recovery must come from the partial ACK, not the timer
  StartServer(o);
  RawTftpClient c(ns_.name());
  RawPolicy policy;
  policy.window = 4;
  // Lost in mid-window: the next block shows the gap. (A window's last
  // block lost is seen by nobody until a timeout, so it is not used here.)
  policy.drop_data_once = {3, 9};
  const auto r = RawDownload(c, Port(), "exact512.bin", policy);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.content, ReadAll(root_ / "exact512.bin"));
  EXPECT_EQ(r.data_count.at(3), 2);
  EXPECT_EQ(r.data_count.at(9), 2);
  EXPECT_EQ(server_->Stats().retransmits, 0u);
  EXPECT_EQ(server_->Stats().transfers_completed, 1u);
}

TEST_F(tftp_server, GivesUpAfterBoundedRetriesWithBackoff) {
  TftpOptions o;
  o.retransmit_timeout = 50ms;
  o.max_retransmit_timeout = 200ms;
  o.max_retries = 3;
  StartServer(o);
  RawTftpClient c(ns_.name());
  c.SendRrq(Port(), "small.txt");
  int data = 0;
  std::optional<ErrorPacket> error;
  std::vector<std::chrono::steady_clock::time_point> at;
  for (int i = 0; i < 20 && !error; ++i) {
    auto d = c.Receive(5s);
    if (!d) break;
    auto p = ParsePacket(d->bytes);
    ASSERT_TRUE(p.ok());
    if (std::holds_alternative<DataPacket>(*p)) {
      ++data;
      at.push_back(std::chrono::steady_clock::now());
    }
    if (std::holds_alternative<ErrorPacket>(*p)) error = std::get<ErrorPacket>(*p);
  }
  EXPECT_EQ(data, 4) << "first send + 3 retries, never ACKed";
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, 0);
  // Backoff: each wait is at least the configured one (50, 100, 200 ms).
  ASSERT_EQ(at.size(), 4u);
  EXPECT_GE(at[2] - at[1], 90ms);
  EXPECT_GE(at[3] - at[2], 190ms);
  // The server counts the failure after it sends the ERROR: wait for it.
  EXPECT_TRUE(metalpxe::testing::WaitFor([&] { return server_->Stats().transfers_failed == 1; }, 3s));
  const auto s = server_->Stats();
  EXPECT_EQ(s.transfers_failed, 1u);
  EXPECT_EQ(s.retransmits, 3u);
  EXPECT_EQ(s.active_transfers, 0u);
}

std::optional<ErrorPacket> ExpectError(RawTftpClient& c) {
  auto d = c.Receive(3s);
  if (!d) return std::nullopt;
  auto p = ParsePacket(d->bytes);
  if (!p.ok() || !std::holds_alternative<ErrorPacket>(*p)) return std::nullopt;
  return std::get<ErrorPacket>(*p);
}

bool ExpectData(RawTftpClient& c, std::uint16_t block) {
  auto d = c.Receive(3s);
  if (!d) return false;
  auto p = ParsePacket(d->bytes);
  return p.ok() && std::holds_alternative<DataPacket>(*p) && std::get<DataPacket>(*p).block == block;
}

// A boot storm beyond max_transfers: PXE firmware ends the boot on a TFTP
// ERROR, so requests beyond the cap wait for a slot, unanswered, and start
// when one frees (the old code answered ERROR 0 "server busy").
TEST_F(tftp_server, RequestsBeyondTheCapWaitForASlot) {
  TftpOptions o;
  o.max_transfers = 2;
  o.retransmit_timeout = 5s;
  o.max_retransmit_timeout = 20s;
  StartServer(o);
  RawTftpClient a(ns_.name()), b(ns_.name()), third(ns_.name());
  a.SendRrq(Port(), "big.bin");
  ASSERT_TRUE(ExpectData(a, 1));
  b.SendRrq(Port(), "big.bin");
  ASSERT_TRUE(ExpectData(b, 1));
  third.SendRrq(Port(), "small.txt");
  EXPECT_FALSE(third.Receive(500ms).has_value()) << "no ERROR, no DATA while both slots are taken";
  third.SendRrq(Port(), "small.txt");  // the client retransmits: still one place in the queue
  EXPECT_FALSE(third.Receive(300ms).has_value());
  ASSERT_TRUE(metalpxe::testing::WaitFor([&] { return server_->Stats().requests_waited == 1; }, 3s));
  EXPECT_EQ(server_->Stats().active_transfers, 2u);
  EXPECT_EQ(server_->Stats().requests_refused, 0u);

  // `a` asks for another file from the same port: that replaces its transfer
  // and is refused (not found), so a slot frees and the waiting request starts.
  a.SendRrq(Port(), "ignored");
  auto replaced = ExpectError(a);
  ASSERT_TRUE(replaced.has_value());
  EXPECT_EQ(replaced->code, static_cast<std::uint16_t>(TftpError::kFileNotFound)) << replaced->message;
  ASSERT_TRUE(ExpectData(third, 1)) << "the waiting request starts in the freed slot";
  EXPECT_EQ(server_->Stats().transfers_started, 3u);
}

// Waiting is bounded: beyond max_waiting a request is dropped unanswered (the
// client retransmits later), still never refused; a slot that frees because
// a transfer ends (here: b's client aborts) starts the one that waited.
TEST_F(tftp_server, RequestsBeyondTheWaitQueueAreDroppedNotRefused) {
  TftpOptions o;
  o.max_transfers = 1;
  o.max_waiting = 1;
  o.retransmit_timeout = 5s;
  o.max_retransmit_timeout = 20s;
  StartServer(o);
  RawTftpClient a(ns_.name()), waits(ns_.name()), dropped(ns_.name());
  a.SendRrq(Port(), "big.bin");
  auto first = a.Receive(3s);
  ASSERT_TRUE(first.has_value());
  waits.SendRrq(Port(), "small.txt");
  dropped.SendRrq(Port(), "small.txt");
  ASSERT_TRUE(metalpxe::testing::WaitFor([&] { return server_->Stats().requests_dropped == 1; }, 3s));
  EXPECT_FALSE(dropped.Receive(300ms).has_value()) << "dropped: no ERROR";
  EXPECT_EQ(server_->Stats().requests_refused, 0u);
  EXPECT_EQ(server_->Stats().requests_waited, 1u);
  a.SendTo(first->from_port, EncodeError(TftpError::kNotDefined, "client gives up"));
  ASSERT_TRUE(ExpectData(waits, 1)) << "the waiting request starts when the transfer ends";
}

TEST_F(tftp_server, RetransmittedRequestDoesNotStartASecondTransfer) {
  TftpOptions o;
  o.retransmit_timeout = 5s;
  StartServer(o);
  RawTftpClient c(ns_.name());
  c.SendRrq(Port(), "small.txt");
  c.SendRrq(Port(), "small.txt");
  ASSERT_TRUE(ExpectData(c, 1));
  EXPECT_FALSE(c.Receive(300ms).has_value()) << "one DATA 1 only";
  EXPECT_EQ(server_->Stats().transfers_started, 1u);
}

TEST_F(tftp_server, BadOptionValueIsErrorEight) {
  StartServer();
  RawTftpClient c(ns_.name());
  c.SendRrq(Port(), "small.txt", {{"blksize", "huge"}});
  auto err = ExpectError(c);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->code, static_cast<std::uint16_t>(TftpError::kOptionNegotiation));
  c.SendRrq(Port(), "small.txt", {}, "netascii");
  err = ExpectError(c);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->code, static_cast<std::uint16_t>(TftpError::kIllegalOperation));
}

TEST_F(tftp_server, ClientErrorAfterOackEndsTheTransfer) {
  TftpOptions o;
  o.retransmit_timeout = 5s;
  StartServer(o);
  RawTftpClient c(ns_.name());
  c.SendRrq(Port(), "big.bin", {{"tsize", "0"}});  // firmware asks the size, then aborts
  auto d = c.Receive(3s);
  ASSERT_TRUE(d.has_value());
  auto p = ParsePacket(d->bytes);
  ASSERT_TRUE(p.ok() && std::holds_alternative<OackPacket>(*p));
  EXPECT_EQ(std::get<OackPacket>(*p).options,
            (std::vector<TftpOption>{{"tsize", std::to_string(fs::file_size(root_ / "big.bin"))}}));
  c.SendTo(d->from_port, EncodeError(TftpError::kOptionNegotiation, "size probe done"));
  ASSERT_TRUE(metalpxe::testing::WaitFor([&] { return server_->Stats().transfers_failed == 1; }, 3s));
  EXPECT_EQ(server_->Stats().active_transfers, 0u);
  EXPECT_FALSE(c.Receive(200ms).has_value());
}

}  // namespace
}  // namespace metalpxe::tftp
