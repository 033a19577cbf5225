// The HTTP server against curl, both inside a network namespace this test
// creates (server on the namespace's 127.0.0.1). Asserts on what curl saw:
// status, headers and the bytes, compared with the files on disk.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <strings.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>

#include "http/http_server.h"
#include "tests/support/netns.h"
#include "tests/support/subprocess.h"

namespace metalpxe::http {
namespace {

namespace fs = std::filesystem;
using metalpxe::testing::NetNs;
using metalpxe::testing::RunCommand;
using metalpxe::testing::ScopedNetNsEnter;

constexpr std::uint64_t k64MiB = 64ull << 20;
constexpr std::uint64_t k5GiB = 5ull << 30;
constexpr int kPort = 8080;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string RandomBytes(std::size_t n, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (std::size_t i = 0; i + 8 <= n; i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

void WriteFile(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary);
  out.write(data.data(), std::streamsize(data.size()));
}

struct CurlResult {
  int http_code = 0;
  std::string headers;  // raw response header block(s)
  std::string body;
  std::string output;   // curl's own output, for messages

  // Last value of a response header (case-insensitive name), "" when absent.
  std::string Header(std::string_view name) const {
    std::string found;
    std::istringstream in(headers);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const auto colon = line.find(':');
      if (colon != name.size()) continue;
      if (strncasecmp(line.data(), name.data(), name.size()) != 0) continue;
      std::size_t v = colon + 1;
      while (v < line.size() && line[v] == ' ') ++v;
      found = line.substr(v);
    }
    return found;
  }
};

class HttpServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("mpx-http-test-" + std::to_string(getpid())));
    fs::create_directories(*dir_ / "root" / "sub");
    fs::create_directories(*dir_ / "root2");
    fs::create_directories(*dir_ / "outside");
    fs::create_directories(*dir_ / "out");
    small_ = new std::string(RandomBytes(1000, 1));
    WriteFile(Root() / "small.bin", *small_);
    WriteFile(Root() / "boot.ipxe", "#!ipxe\nexit\n");
    WriteFile(Root() / "sub" / "snponly.efi", RandomBytes(4096, 2));
    WriteFile(*dir_ / "outside" / "secret.txt", "root:x:0:0:outside-secret\n");
    fs::create_symlink(*dir_ / "outside" / "secret.txt", Root() / "evil");
    fs::create_symlink(*dir_ / "outside", Root() / "evildir");
    fs::create_symlink("small.bin", Root() / "alias.bin");  // stays inside: allowed
    WriteFile(*dir_ / "root2" / "small.bin", "shadowed: the first root wins");
    WriteFile(*dir_ / "root2" / "only2.bin", "from the second root");
    // 5 GiB sparse file with known bytes in its last 100.
    tail_ = new std::string(RandomBytes(104, 4).substr(0, 100));
    {
      const int fd = ::open((Root() / "huge.img").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(::ftruncate(fd, off_t(k5GiB)), 0);
      ASSERT_EQ(::pwrite(fd, tail_->data(), tail_->size(), off_t(k5GiB - 100)), 100);
      ::close(fd);
    }

    // Capture the log to check what reaches it.
    ring_ = new std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt>(
        std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4000));
    auto logger = std::make_shared<spdlog::logger>("http-test", *ring_);
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);

    ns_ = new NetNs("http");
    HttpServerOptions options;
    options.bind_address = Ipv4Address::FromOctets(127, 0, 0, 1);
    options.port = kPort;
    options.threads = 2;
    options.max_request_bytes = 8 * 1024;
    options.idle_timeout = std::chrono::seconds(10);
    server_ = new HttpServer(options);
    server_->ServeFiles("/assets", {Root().string(), (*dir_ / "root2").string(), "/nonexistent-root"});
    server_->Handle("/ipxe", [](const HttpRequest& req) {
      std::string body = "method=" + req.method + " path=" + req.path + " mac=" + std::string(req.Query("mac")) +
                         " uuid=" + std::string(req.Query("uuid")) +
                         " flag=" + (req.query.count("flag") ? "present" : "absent") +
                         " agent=" + std::string(req.Header("user-agent")) + " peer=" + req.peer.ToString() + "\n";
      HttpResponse r = HttpResponse::Text(200, std::move(body));
      r.headers.emplace_back("X-Metalpxe", "script");
      return r;
    });
    server_->HandlePrefix("/config/", [](const HttpRequest& req) {
      if (req.path == "/config/good-token") return HttpResponse::Text(200, "machine: {}\n", "application/yaml");
      return HttpResponse::Text(403, "forbidden\n");
    });
    server_->Handle("/throws", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
    ScopedNetNsEnter enter(ns_->name());  // the listening socket is created in the namespace
    const Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(server_->Port(), kPort);
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete ns_;
    std::error_code ec;
    fs::remove_all(*dir_, ec);
    delete dir_;
    delete small_;
    delete tail_;
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("after-http-test"));
    delete ring_;
  }

  static fs::path Root() { return *dir_ / "root"; }
  static std::string Url(std::string_view path) { return "http://127.0.0.1:" + std::to_string(kPort) + std::string(path); }

  // curl inside the namespace; extra: more curl arguments.
  static CurlResult Curl(std::vector<std::string> extra, std::string_view path) {
    static int n = 0;
    const auto body = *dir_ / "out" / ("body" + std::to_string(++n));
    const auto head = *dir_ / "out" / ("head" + std::to_string(n));
    std::vector<std::string> argv{"curl", "-sS", "--path-as-is", "-o", body.string(), "-D", head.string(), "-w",
                                  "%{http_code}", "--max-time", "60"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(Url(path));
    auto r = RunCommand(argv, std::chrono::seconds(90), ns_->name());
    CurlResult out;
    out.output = r.output;
    out.http_code = std::atoi(r.output.c_str());
    out.headers = ReadFile(head);
    out.body = ReadFile(body);
    fs::remove(body);
    fs::remove(head);
    return out;
  }

  static std::string LogText() {
    std::string all;
    for (const auto& line : (*ring_)->last_formatted()) all += line;
    return all;
  }

  static inline fs::path* dir_ = nullptr;
  static inline std::string* small_ = nullptr;
  static inline std::string* tail_ = nullptr;
  static inline NetNs* ns_ = nullptr;
  static inline HttpServer* server_ = nullptr;
  static inline std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt>* ring_ = nullptr;
};

TEST_F(HttpServerTest, http_full_get_with_validators) {
  const auto r = Curl({}, "/assets/small.bin");
  ASSERT_EQ(r.http_code, 200) << r.output;
  EXPECT_EQ(r.body, *small_);
  EXPECT_EQ(r.Header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(r.Header("Accept-Ranges"), "bytes");
  EXPECT_FALSE(r.Header("ETag").empty());
  EXPECT_FALSE(r.Header("Last-Modified").empty());
  EXPECT_EQ(Curl({}, "/assets/boot.ipxe").Header("Content-Type"), "text/plain");
  EXPECT_EQ(Curl({}, "/assets/sub/snponly.efi").body.size(), 4096u);
}

TEST_F(HttpServerTest, http_range_first_middle_open_suffix) {
  struct Case {
    const char* range;
    std::size_t first, length;
  };
  for (const Case& c : {Case{"0-99", 0, 100}, Case{"100-199", 100, 100}, Case{"900-", 900, 100},
                        Case{"-100", 900, 100}, Case{"990-5000", 990, 10}}) {
    const auto r = Curl({"-r", c.range}, "/assets/small.bin");
    ASSERT_EQ(r.http_code, 206) << c.range << " " << r.output;
    EXPECT_EQ(r.body, small_->substr(c.first, c.length)) << c.range;
    EXPECT_EQ(r.Header("Content-Range"),
              "bytes " + std::to_string(c.first) + "-" + std::to_string(c.first + c.length - 1) + "/1000");
  }
}

TEST_F(HttpServerTest, http_range_unsatisfiable_is_416) {
  const auto r = Curl({"-r", "1000-"}, "/assets/small.bin");
  EXPECT_EQ(r.http_code, 416) << r.output;
  EXPECT_EQ(r.Header("Content-Range"), "bytes */1000");
  EXPECT_TRUE(r.body.empty());
  // Syntactically invalid: ignored, full body (documented in range_header.h).
  const auto invalid = Curl({"-H", "Range: bytes=abc"}, "/assets/small.bin");
  EXPECT_EQ(invalid.http_code, 200);
  EXPECT_EQ(invalid.body, *small_);
  // Multi-range: the full body with 200 (documented choice).
  const auto multi = Curl({"-r", "0-9,20-29"}, "/assets/small.bin");
  EXPECT_EQ(multi.http_code, 200);
  EXPECT_EQ(multi.body, *small_);
}

// The raw bytes of an HTTP/1.0 exchange (the server closes after one response).
static std::string RawExchange(const NetNs& ns, const std::string& request) {
  const auto r = RunCommand({"bash", "-c",
                             "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(kPort) + "; printf '" + request +
                                 "' >&3; timeout 10 cat <&3"},
                            std::chrono::seconds(20), ns.name());
  return r.output;
}

TEST_F(HttpServerTest, http_head_has_headers_and_no_body) {
  const auto r = Curl({"-I"}, "/assets/small.bin");
  ASSERT_EQ(r.http_code, 200) << r.output;
  EXPECT_EQ(r.Header("Content-Length"), "1000");
  EXPECT_FALSE(r.Header("ETag").empty());
  EXPECT_EQ(r.Header("Accept-Ranges"), "bytes");
  const auto h = Curl({"-I"}, "/assets/huge.img");
  EXPECT_EQ(h.Header("Content-Length"), std::to_string(k5GiB));
  const auto handler = Curl({"-I"}, "/ipxe?mac=aa");
  EXPECT_EQ(handler.http_code, 200);
  EXPECT_EQ(handler.Header("X-Metalpxe"), "script");
  // On the wire: the header block and not one byte after it.
  for (const char* path : {"/assets/small.bin", "/ipxe?mac=aa"}) {
    const std::string raw = RawExchange(*ns_, std::string("HEAD ") + path + " HTTP/1.0\\r\\n\\r\\n");
    ASSERT_EQ(raw.rfind("HTTP/1.", 0), 0u) << raw;
    const auto end = raw.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos) << raw;
    EXPECT_EQ(raw.size(), end + 4) << path << ": body bytes after the headers";
  }
}

TEST_F(HttpServerTest, http_etag_and_dates_give_304) {
  const auto first = Curl({}, "/assets/small.bin");
  const std::string etag = first.Header("ETag");
  const std::string last_modified = first.Header("Last-Modified");
  ASSERT_FALSE(etag.empty());
  const auto inm = Curl({"-H", "If-None-Match: " + etag}, "/assets/small.bin");
  EXPECT_EQ(inm.http_code, 304);
  EXPECT_TRUE(inm.body.empty());
  EXPECT_EQ(inm.Header("ETag"), etag);
  EXPECT_EQ(Curl({"-H", "If-None-Match: \"other\""}, "/assets/small.bin").http_code, 200);
  EXPECT_EQ(Curl({"-H", "If-Modified-Since: " + last_modified}, "/assets/small.bin").http_code, 304);
  EXPECT_EQ(Curl({"-H", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT"}, "/assets/small.bin").http_code, 200);
  // If-Range: current validator keeps the range, a stale one gets everything.
  EXPECT_EQ(Curl({"-r", "0-9", "-H", "If-Range: " + etag}, "/assets/small.bin").http_code, 206);
  const auto stale = Curl({"-r", "0-9", "-H", "If-Range: \"stale\""}, "/assets/small.bin");
  EXPECT_EQ(stale.http_code, 200);
  EXPECT_EQ(stale.body, *small_);
}

TEST_F(HttpServerTest, http_404_and_405) {
  EXPECT_EQ(Curl({}, "/assets/missing.bin").http_code, 404);
  EXPECT_EQ(Curl({}, "/assets/sub").http_code, 404);   // directories are not listed
  EXPECT_EQ(Curl({}, "/assets/sub/").http_code, 404);
  EXPECT_EQ(Curl({}, "/assets/").http_code, 404);
  EXPECT_EQ(Curl({}, "/nothing-here").http_code, 404);
  EXPECT_EQ(Curl({}, "/assetsX/small.bin").http_code, 404);  // prefix needs a '/' boundary
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
    const auto r = Curl({"-X", method, "--data", "x=1"}, "/assets/small.bin");
    EXPECT_EQ(r.http_code, 405) << method;
    EXPECT_EQ(r.Header("Allow"), "GET, HEAD");
  }
}

TEST_F(HttpServerTest, http_traversal_refused) {
  for (const char* path : {"/assets/../etc/passwd", "/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                           "/assets/..%2f..%2f..%2fetc%2fpasswd", "/assets/sub/../../outside/secret.txt",
                           "/assets/%2E%2E/outside/secret.txt", "/assets/evil", "/assets/evildir/secret.txt",
                           "/assets/..\\..\\etc\\passwd"}) {
    const auto r = Curl({}, path);
    EXPECT_TRUE(r.http_code == 400 || r.http_code == 404) << path << " -> " << r.http_code;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << path;
  }
  const auto alias = Curl({}, "/assets/alias.bin");  // a symlink inside the root is fine
  EXPECT_EQ(alias.http_code, 200);
  EXPECT_EQ(alias.body, *small_);
}

TEST_F(HttpServerTest, http_roots_searched_in_order) {
  EXPECT_EQ(Curl({}, "/assets/small.bin").body, *small_);
  const auto r = Curl({}, "/assets/only2.bin");
  EXPECT_EQ(r.http_code, 200);
  EXPECT_EQ(r.body, "from the second root");
}

TEST_F(HttpServerTest, http_handler_route_with_query) {
  const auto r = Curl({"-A", "iPXE/1.21.1"}, "/ipxe?mac=52-54-00-12-34-56&uuid=abc%20def&flag");
  ASSERT_EQ(r.http_code, 200) << r.output;
  EXPECT_EQ(r.body,
            "method=GET path=/ipxe mac=52-54-00-12-34-56 uuid=abc def flag=present agent=iPXE/1.21.1 peer=127.0.0.1\n");
  EXPECT_EQ(r.Header("Content-Type"), "text/plain");
  EXPECT_EQ(r.Header("X-Metalpxe"), "script");
  const auto cfg = Curl({}, "/config/good-token");
  EXPECT_EQ(cfg.http_code, 200);
  EXPECT_EQ(cfg.Header("Content-Type"), "application/yaml");
  EXPECT_EQ(Curl({}, "/config/bad-token").http_code, 403);
  EXPECT_EQ(Curl({}, "/throws").http_code, 500);
}

TEST_F(HttpServerTest, http_large_files_served_correctly) {
  // Made here, not for the whole suite: ctest runs each test in a process of
  // its own, and 64 MiB of random bytes per process cost the suite ~1 s each.
  WriteFile(Root() / "big.bin", RandomBytes(k64MiB, 3));
  // 64 MiB in full: curl writes it, compare with the file byte for byte.
  const auto out = *dir_ / "out" / "big.download";
  auto r = RunCommand({"curl", "-sS", "-o", out.string(), "-w", "%{http_code} %{size_download}", "--max-time", "60",
                       Url("/assets/big.bin")},
                      std::chrono::seconds(90), ns_->name());
  ASSERT_EQ(r.output, "200 " + std::to_string(k64MiB)) << r.output;
  const auto cmp = RunCommand({"cmp", out.string(), (Root() / "big.bin").string()});
  EXPECT_EQ(cmp.exit_code, 0) << cmp.output;
  fs::remove(out);
  // A range in the middle of it.
  const auto mid = Curl({"-r", "33554400-33554499"}, "/assets/big.bin");
  EXPECT_EQ(mid.http_code, 206);
  EXPECT_EQ(mid.body, ReadFile(Root() / "big.bin").substr(33554400, 100));
  // The last 100 bytes of a 5 GiB file: offsets past 4 GiB.
  const auto end = Curl({"-r", std::to_string(k5GiB - 100) + "-"}, "/assets/huge.img");
  ASSERT_EQ(end.http_code, 206) << end.output;
  EXPECT_EQ(end.Header("Content-Range"),
            "bytes " + std::to_string(k5GiB - 100) + "-" + std::to_string(k5GiB - 1) + "/" + std::to_string(k5GiB));
  EXPECT_EQ(end.body, *tail_);
  const auto suffix = Curl({"-r", "-100"}, "/assets/huge.img");
  EXPECT_EQ(suffix.http_code, 206);
  EXPECT_EQ(suffix.body, *tail_);
  // A range straddling 4 GiB (holes read as zeros).
  const auto straddle = Curl({"-r", std::to_string((4ull << 30) - 5) + "-" + std::to_string((4ull << 30) + 4)},
                             "/assets/huge.img");
  EXPECT_EQ(straddle.http_code, 206);
  EXPECT_EQ(straddle.body, std::string(10, '\0'));
}

TEST_F(HttpServerTest, http_header_size_limit_enforced) {
  EXPECT_EQ(Curl({"-H", "X-Pad: " + std::string(1024, 'a')}, "/assets/small.bin").http_code, 200);
  const auto big = Curl({"-H", "X-Pad: " + std::string(16 * 1024, 'a')}, "/assets/small.bin");
  EXPECT_EQ(big.http_code, 431) << big.output;
  EXPECT_TRUE(big.body.find(small_->substr(0, 50)) == std::string::npos);
}

TEST_F(HttpServerTest, http_logs_never_hold_tokens_or_queries) {
  Curl({}, "/config/s3cr3t-token-value");
  Curl({}, "/ipxe?mac=aa&token=s3cr3t-query-value");
  const std::string log = LogText();
  EXPECT_NE(log.find("/config/<redacted>"), std::string::npos) << log;
  EXPECT_EQ(log.find("s3cr3t"), std::string::npos) << log;
}

TEST_F(HttpServerTest, http_stats_count_responses_bytes_connections) {
  const HttpStats before = server_->Stats();
  Curl({}, "/assets/small.bin");
  Curl({}, "/assets/missing.bin");
  Curl({}, "/throws");
  ASSERT_TRUE(metalpxe::testing::WaitFor([&] { return server_->Stats().active_connections == 0; },
                                         std::chrono::seconds(10)));
  const HttpStats after = server_->Stats();
  EXPECT_GE(after.responses_by_class[1] - before.responses_by_class[1], 1u);
  EXPECT_GE(after.responses_by_class[3] - before.responses_by_class[3], 1u);
  EXPECT_GE(after.responses_by_class[4] - before.responses_by_class[4], 1u);
  EXPECT_GE(after.bytes_sent - before.bytes_sent, 1000u);
  EXPECT_GE(after.connections_total - before.connections_total, 3u);
  EXPECT_EQ(after.requests_total - before.requests_total, 3u);
  // One duration per request, under the route it matched; a path no route
  // has is "other", and no route appears that was not registered.
  auto count_of = [](const HttpStats& s, const std::string& route) -> std::int64_t {
    for (const auto& [r, h] : s.durations)
      if (r == route) return static_cast<std::int64_t>(h.count);
    return -1;
  };
  EXPECT_EQ(count_of(after, "/assets") - count_of(before, "/assets"), 2);
  EXPECT_EQ(count_of(after, "/throws") - count_of(before, "/throws"), 1);
  EXPECT_EQ(count_of(after, "/ipxe") - count_of(before, "/ipxe"), 0);
  Curl({}, "/no/such/route");
  const std::int64_t other_before = count_of(after, "other");
  ASSERT_TRUE(metalpxe::testing::WaitFor([&] { return count_of(server_->Stats(), "other") == other_before + 1; },
                                         std::chrono::seconds(10)));
  EXPECT_EQ(count_of(after, "/no/such/route"), -1);
}

}  // namespace
}  // namespace metalpxe::http
