#pragma once
// The appliance's HTTP server: libmicrohttpd with epoll and an internal
// thread pool. Serves registered handlers (iPXE scripts, machine configs,
// /metrics) and static files from ordered roots (boot assets) with Range,
// conditional requests and zero-copy sendfile.
//
// Only GET and HEAD are served; any other method gets 405 with
// `Allow: GET, HEAD`. Routes: an exact path wins over a prefix; among
// prefixes the longest wins; no route -> 404. Register every route before
// Start(): the route tables are read without locks by the worker threads.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/latency_histogram.h"
#include "core/net_types.h"
#include "core/result.h"
#include "http/http_types.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace metalpxe::http {

// How one static-file request ended (ServeFiles routes only): for the
// machine's boot timeline, reported once the response is done.
struct HttpFileReport {
  IpAddress peer;  // IPv4 or IPv6
  std::string path;        // the URL path (libmicrohttpd gives it without the query)
  int status = 0;
  std::uint64_t bytes = 0;  // body bytes, when completed
  std::chrono::milliseconds duration{0};
  bool completed = false;   // the whole response was sent
};
using HttpFileObserver = std::function<void(const HttpFileReport&)>;

struct HttpServerOptions {
  Ipv4Address bind_address;                 // 0.0.0.0: all addresses
  // Listen on [::] for IPv6 and IPv4 alike (IPV6_V6ONLY off): set when
  // server.address6 is configured; only with bind_address 0.0.0.0.
  bool dual_stack = false;
  std::uint16_t port = 8080;                // 0: the kernel picks one, see Port()
  unsigned threads = 2;                     // worker threads (MHD thread pool), >= 1

  // Connection limits. A booting machine holds one or two connections, and a
  // boot storm of 1,000 machines comes from 1,000 addresses: 4,096 in all
  // leaves it room twice over. One client address may hold at most
  // per_ip_connection_limit (libmicrohttpd counts it across the thread pool);
  // its further connections are accepted and closed at once, so one host can
  // never take the server's room. 128 leaves room for a lab behind NAT and for
  // load tools (bench/ uses wrk -c64). Start() refuses a per-address limit of
  // 0 or above half the total, and lowers both if the process may not open
  // that many files.
  unsigned connection_limit = 4096;
  unsigned per_ip_connection_limit = 128;
  // Idle ≠ slow. A connection with no request in progress, or whose request
  // headers stop arriving, is closed after idle_timeout without a byte. While
  // a response body larger than a socket buffer is being sent, the limit is
  // send_stall_timeout without a byte taken by the client: a slow iPXE client
  // on a busy network keeps making progress and is never cut, and TCP's own
  // retransmission backoff (up to ~13 s after six losses) fits well inside it.
  std::chrono::seconds idle_timeout{15};
  std::chrono::seconds send_stall_timeout{60};
  // Per-connection memory for the request line and headers (and response
  // headers): MHD_OPTION_CONNECTION_MEMORY_LIMIT. Larger requests get 431.
  std::size_t max_request_bytes = 16 * 1024;
  // May be empty; runs on a worker thread and must only queue.
  HttpFileObserver file_observer;
};

struct HttpStats {
  // Responses by status class: [0] 1xx ... [4] 5xx. Counts the responses
  // this server produced (answers MHD gives on its own, e.g. 431 for
  // oversized headers, are not seen here).
  std::array<std::uint64_t, 5> responses_by_class{};
  std::uint64_t requests_total = 0;
  std::uint64_t bytes_sent = 0;  // body bytes of responses completed without error
  std::uint64_t active_connections = 0;
  std::uint64_t connections_total = 0;
  // Accepted and closed at once: the client was at its per-address limit or
  // the server at its total (counted from libmicrohttpd's own report).
  std::uint64_t connections_refused = 0;
  // Request durations (request line read to response sent or aborted) by
  // route: the path or prefix a handler was registered for, "other" for
  // requests no route matched and refused methods. Bounded: one per route.
  std::vector<std::pair<std::string, LatencyHistogram::Snapshot>> durations;
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // exact_path: "/ipxe". The handler may run on several threads at once.
  void Handle(std::string exact_path, HttpHandler handler);
  // prefix: "/config/" matches "/config/abc". A prefix without a trailing
  // '/' matches itself and paths continuing with '/'.
  void HandlePrefix(std::string prefix, HttpHandler handler);
  // Files under url_prefix ("/assets") from the first root that has them.
  // Roots may be created after Start(); directories are never listed.
  void ServeFiles(std::string url_prefix, std::vector<std::string> roots);

  Status Start();
  void Stop();  // idempotent; waits for the worker threads
  std::uint16_t Port() const;  // the bound port (after Start)
  HttpStats Stats() const;

 private:
  struct PrefixRoute {
    std::string prefix;
    HttpHandler handler;             // set for HandlePrefix
    std::vector<std::string> roots;  // set for ServeFiles
    bool files = false;
  };
  struct Counters;
  struct RequestContext;

  friend struct MhdCallbacks;  // libmicrohttpd's C callbacks, in the .cpp

  // Each returns whether MHD accepted the queued response (MHD_YES).
  bool Refuse(MHD_Connection* connection, RequestContext* ctx);  // 405
  bool OnRequest(MHD_Connection* connection, const char* url, const char* method, RequestContext* ctx);
  bool ServeHandler(MHD_Connection* connection, const HttpHandler& handler, const char* method,
                    const char* path, RequestContext* ctx);
  bool ServeFile(MHD_Connection* connection, const char* method, const PrefixRoute& route, std::string_view path,
                 RequestContext* ctx);
  bool QueueText(MHD_Connection* connection, int status, std::string_view body, RequestContext* ctx,
                 const char* extra_header = nullptr, const char* extra_value = nullptr);
  const PrefixRoute* FindPrefix(std::string_view path) const;
  // The duration histogram of a route (registered at Start), else "other"'s.
  LatencyHistogram* DurationsOf(const std::string& route) const;
  // Gives a connection about to send `body_bytes` the send-stall timeout
  // instead of the idle one (see HttpServerOptions), for this request only.
  void StretchTimeoutForBody(MHD_Connection* connection, std::uint64_t body_bytes, RequestContext* ctx);
  void NoteRefusedConnection();
  void FitLimitsToOpenFiles();  // Start(): lowers the limits to what RLIMIT_NOFILE allows

  HttpServerOptions options_;
  std::unordered_map<std::string, HttpHandler> exact_;
  std::vector<PrefixRoute> prefixes_;  // longest first after Start()
  std::unique_ptr<Counters> counters_;
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace metalpxe::http
